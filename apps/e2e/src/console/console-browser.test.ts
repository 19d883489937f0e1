import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { IdentityServiceClient } from '@gatehouse/contracts';
import { call, dial } from '@gatehouse/service-kit';
import { devSignIn, hotp } from '../dev-sign-in.js';
import { ROOT, startStack, type Stack } from '../stack.js';
import { CHROMIUM, launchChromium, startConsole, type ConsoleProcess } from './console-process.js';

const SHOTS = path.join(ROOT, 'dist/console-screenshots');
/** A home worker's address, relayed by the test as the console's trusted proxy (loopback): not on the allowlist. */
const HOME_IP = '10.20.30.40';
const secretOf = (otpauthUri: string) => new URL(otpauthUri).searchParams.get('secret') ?? '';
const totpAt = (secret: string, step: number) => hotp(secret, step);

/**
 * Issue 16 item 5: the console in Debian's Chromium (playwright-core) against the real stack:
 * the five services and the console as processes of their built bundles, real mTLS between
 * them, the dev stand-in for Google, SMS codes read from identity's dev sink, TOTP and HOTP
 * codes computed here. Steps run in order and share the people they sign in.
 */
describe('the console in a real browser (issue 16)', { skip: fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)` }, () => {
  let stack: Stack;
  let web: ConsoleProcess;
  let browser: Browser;
  let identity: IdentityServiceClient;
  let people: ReturnType<typeof devSignIn>;
  const contexts: BrowserContext[] = [];
  let officer: Page;
  let support: Page;
  let supportDevice = { secret: '', counter: 0 };
  const steps: string[] = [];
  const t0 = Date.now();

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    stack = await startStack({
      GATEHOUSE_TRUSTED_PROXIES: 'console',
      GATEHOUSE_RATE_LIMITS: JSON.stringify({ perCaller: { ratePerSec: 100000, burst: 100000 }, perIp: { ratePerSec: 100000, burst: 100000 } }),
    });
    web = await startConsole(stack, { GATEHOUSE_CONSOLE_TRUSTED_PROXIES: '127.0.0.1/32' });
    browser = await launchChromium();
    identity = dial(IdentityServiceClient, stack.services.identity.address, { mode: 'mtls', material: await stack.material('cli', 'identity') });
    people = devSignIn({ identity: () => identity, dataDir: path.join(stack.dir, 'data'), output: () => stack.services.identity.stderr.join('') });
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    identity?.close();
    await web?.stop();
    await stack?.stop();
    console.log(`console browser suite: ${steps.length} steps in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${steps.join(' | ')}`);
  });

  async function newPage(extraHTTPHeaders?: Record<string, string>): Promise<Page> {
    const ctx = await browser.newContext({ baseURL: web.url, ...(extraHTTPHeaders ? { extraHTTPHeaders } : {}) });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
    return page;
  }
  /** Secrets the browser was shown (setup keys, impersonation tokens): the console must never log them. */
  const shown: string[] = [];
  /** A screenshot for CI, after checking that every form field on the page has a label. */
  const shot = async (page: Page, name: string) => {
    // Expressions, not functions: they run in Chromium, and this project is typed for Node.
    const unlabelled = await page.evaluate<string[]>(
      "[...document.querySelectorAll('input, select, textarea')].filter((e) => e.type !== 'hidden' && !e.labels?.length && !e.getAttribute('aria-label')).map((e) => e.outerHTML.slice(0, 80))",
    );
    assert.deepEqual(unlabelled, [], `every field on the ${name} page has a label`);
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  };

  /** "Sign in with Google", then the dev stand-in for Google's account chooser. */
  async function google(page: Page, email: string, name: string): Promise<void> {
    await page.goto('/#/sign-in');
    await page.getByRole('link', { name: 'Sign in with Google' }).click();
    await page.getByLabel('Google account e-mail').fill(email);
    await page.getByLabel('Name on the Google profile').fill(name);
    await page.getByRole('button', { name: 'Continue' }).click();
  }

  /** Google (the dev stand-in), then the SMS code from the dev sink; leaves the page at the OTP step. */
  async function googleAndSms(page: Page, email: string, name: string): Promise<void> {
    await google(page, email, name);
    const seen = people.smsCount();
    await page.getByRole('button', { name: 'Send SMS code' }).click();
    await page.getByLabel('SMS code').fill(await people.smsCode(seen));
    await page.getByRole('button', { name: 'Verify SMS code' }).click();
  }

  /** The first sign-in's enrolment step: the QR and setup key shown, confirmed with a code; returns the secret. */
  async function enrol(page: Page, kind: 'totp' | 'hotp', code: (secret: string) => string): Promise<string> {
    await page.getByLabel(kind === 'totp' ? 'TOTP (time-based)' : 'HOTP (counter-based)').check();
    await page.getByRole('button', { name: 'Set up authenticator' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator' }).waitFor();
    const uri = await page.getByLabel('Setup key (otpauth URI)').inputValue();
    assert.match(uri, new RegExp(`^otpauth://${kind}/`), 'the setup key is an otpauth URI of the chosen kind');
    const secret = secretOf(uri);
    shown.push(secret);
    await page.getByLabel('Authenticator code').fill(code(secret));
    await page.getByRole('button', { name: 'Confirm authenticator' }).click();
    return secret;
  }

  async function finish(page: Page, code: string): Promise<void> {
    await page.getByLabel('One-time code').fill(code);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Today' }).waitFor();
  }

  async function approve(email: string, displayName: string, role: string, phone: string): Promise<void> {
    await officer.goto('/#/officer');
    await officer.reload(); // the queue as it is now, even when the page was already showing it
    const card = officer.getByRole('article', { name: `Pending account ${email}` });
    await card.getByLabel('Display name').fill(displayName);
    await card.getByRole('checkbox', { name: new RegExp(role) }).check();
    await card.getByLabel('Phone number').fill(phone);
    await card.getByLabel('Note', { exact: true }).fill('approved in the console test');
    await card.getByRole('button', { name: 'Approve' }).click();
    await card.waitFor({ state: 'detached' });
  }

  /** A first Google sign-in of someone unknown: refused, and their account waits for the officer. */
  async function firstAttempt(page: Page, email: string, name: string): Promise<void> {
    await google(page, email, name);
    await page.getByRole('heading', { name: 'Sign-in failed' }).waitFor();
    assert.match(await page.getByRole('alert').innerText(), /approv/i, 'the refusal says the account waits for approval');
  }

  test('the officer\'s full first sign-in in the browser: Google, SMS, TOTP enrolment with the QR code, then TOTP', async () => {
    const c = identity;
    const bootstrapToken = fs.readFileSync(path.join(stack.dir, 'data', 'identity-bootstrap-token'), 'utf8').trim();
    await call(c, c.bootstrapOfficer, { bootstrapToken, googleIdToken: people.idToken('olga@bank.example'), phoneNumber: '+4915100000001' });
    officer = await newPage();
    await officer.goto('/#/sign-in');
    await officer.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
    // Keyboard: Tab reaches the sign-in link, and the focused element shows a visible outline.
    let focused = '';
    for (let i = 0; i < 6 && focused !== 'Sign in with Google'; i++) {
      await officer.keyboard.press('Tab');
      focused = await officer.evaluate<string>("document.activeElement?.textContent?.trim() ?? ''");
    }
    assert.equal(focused, 'Sign in with Google', 'the sign-in link is reachable by keyboard');
    const outline = await officer.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
    assert.notEqual(outline, 'none', 'focus is visible');
    await shot(officer, 'sign-in');
    await googleAndSms(officer, 'olga@bank.example', 'Olga');
    const step = Math.floor(Date.now() / 30_000);
    const secret = await enrol(officer, 'totp', (s) => totpAt(s, step));
    // The next time step's code: the one just used for the confirmation is never accepted twice.
    await finish(officer, totpAt(secret, step + 1));
    assert.equal((await officer.getByTestId('scope').innerText()).trim(), 'FULL', 'loopback is allowlisted: a FULL session');
    await shot(officer, 'today-officer');
    steps.push('officer first sign-in (Google, SMS, TOTP enrolment, TOTP)');
  });

  test('the session cookie is HttpOnly, SameSite=Strict, path /, and every answer carries the CSP and no-store on the API', async () => {
    const cookies = await officer.context().cookies();
    const session = cookies.find((k) => k.name === 'gh_session');
    assert.ok(session, 'a session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(session.path, '/');
    assert.equal(session.secure, false, 'Secure is left off only on plain-HTTP loopback in dev');
    assert.doesNotMatch(session.value, /^eyJ/, 'the cookie is sealed: not the raw session token');
    const page = await officer.request.get('/');
    const csp = page.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'no inline script allowed');
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers()['x-frame-options'], 'DENY');
    const api = await officer.request.get('/api/me');
    assert.equal(api.status(), 200);
    assert.equal(api.headers()['cache-control'], 'no-store');
    assert.match(api.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    const html = await page.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'index.html has no inline script');
    assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1)/, 'the page names no external host');
    steps.push('cookie flags and headers');
  });

  test('CSRF: a POST without the token, or from another origin, gets 403 and changes nothing', async () => {
    const list = async () => JSON.stringify(((await (await officer.request.get('/api/allowlist')).json()) as { entries: unknown[] }).entries);
    const before = await list();
    const body = { cidr: '10.99.0.0/16', label: 'csrf probe', scope: 'all', expiresAt: '', reason: 'must never land' };
    const noToken = await officer.request.post('/api/allowlist', { data: body });
    assert.equal(noToken.status(), 403);
    assert.equal(((await noToken.json()) as { error: { code: string } }).error.code, 'CSRF');
    const csrf = (await officer.context().cookies()).find((k) => k.name === 'gh_csrf')?.value ?? '';
    assert.ok(csrf.length >= 24, 'the double-submit cookie is set');
    const wrongToken = await officer.request.post('/api/allowlist', { data: body, headers: { 'x-gatehouse-csrf': `${csrf}x` } });
    assert.equal(wrongToken.status(), 403);
    const foreign = await officer.request.post('/api/allowlist', { data: body, headers: { 'x-gatehouse-csrf': csrf, origin: 'http://evil.example' } });
    assert.equal(foreign.status(), 403);
    assert.match(((await foreign.json()) as { error: { message: string } }).error.message, /not from the console's origin/);
    // Hostile bodies with a valid token: each a clear 400 naming the problem, and no change.
    const headers = { 'x-gatehouse-csrf': csrf };
    const hostile: Array<[string, Parameters<Page['request']['post']>[1], RegExp]> = [
      ['operator-like object', { data: { ...body, cidr: { $ne: '' } }, headers }, /cidr must be a string/],
      ['malformed JSON', { data: Buffer.from('{"cidr":'), headers: { ...headers, 'content-type': 'application/json' } }, /not valid JSON/],
      ['oversized', { data: { ...body, reason: 'x'.repeat(70_000) }, headers }, /larger than 65536 bytes/],
      ['unknown scope', { data: { ...body, scope: 'everywhere' }, headers }, /scope must be one of live, staging, all/],
    ];
    for (const [what, opts, message] of hostile) {
      const r = await officer.request.post('/api/allowlist', opts);
      assert.equal(r.status(), 400, what);
      assert.match(((await r.json()) as { error: { message: string } }).error.message, message, what);
    }
    assert.equal(await list(), before, 'no entry was added');
    steps.push('CSRF refused x3, hostile bodies refused x4, nothing changed');
  });

  test('support: approved by the officer in the page, first sign-in with HOTP enrolment', async () => {
    support = await newPage();
    await firstAttempt(support, 'sam@bank.example', 'Sam');
    await approve('sam@bank.example', 'Sam Support', 'support', '+4915100000002');
    await googleAndSms(support, 'sam@bank.example', 'Sam');
    const secret = await enrol(support, 'hotp', (s) => hotp(s, 0));
    supportDevice = { secret, counter: 1 };
    await finish(support, hotp(secret, supportDevice.counter++));
    steps.push('support approved in the officer queue, HOTP first sign-in');
  });

  test('a support burst is refused, justified, and accepted by the officer; its alert reaches the officer queue live within 2 s', async () => {
    await officer.goto('/#/officer');
    await officer.getByTestId('alerts').waitFor();
    await support.goto('/#/support');
    const start = async (target: string) => {
      await support.getByLabel('Customer user id').fill(target);
      await support.getByLabel('Customer domain').fill('acme.example');
      await support.getByLabel('Reason', { exact: true }).selectOption('customer_support_case');
      await support.getByLabel('Justification', { exact: true }).fill('customer reported missing contacts after the import');
      await support.getByLabel('Ticket', { exact: true }).fill('CASE-4711');
      await support.getByRole('button', { name: 'Start impersonation' }).click();
    };
    for (const target of ['cust-1', 'cust-2', 'cust-3']) {
      await start(target);
      const token = support.getByLabel('Impersonation token');
      await token.waitFor();
      const value = await token.inputValue();
      assert.match(value, /^ey/, 'the token is shown once');
      shown.push(value);
    }
    await shot(support, 'support');
    const clicked = Date.now();
    await start('cust-4');
    const refusal = support.getByRole('alert').filter({ hasText: /anomaly/ });
    await refusal.waitFor();
    const alert = officer.getByRole('article', { name: 'Alert Impersonation anomaly' });
    await alert.waitFor({ timeout: 2_000 });
    const liveMs = Date.now() - clicked;
    assert.ok(liveMs <= 2_000, `the alert appeared in the officer queue ${liveMs} ms after the refused start`);
    await support.getByLabel('Burst justification').fill('four customers of acme.example reported the same import bug today');
    await support.getByLabel('Ticket references').fill('CASE-4711, CASE-4712');
    await support.getByRole('button', { name: 'Submit justification' }).click();
    await support.getByText('justified').first().waitFor();
    await officer.reload();
    const anomaly = officer.getByRole('article', { name: /^Anomaly / }).filter({ hasText: 'four customers of acme.example' });
    await anomaly.getByLabel('Decision note').fill('checked the tickets: one import bug');
    await shot(officer, 'officer-queue');
    await anomaly.getByRole('button', { name: 'Accept' }).click();
    await anomaly.waitFor({ state: 'detached' });
    await support.reload();
    await support.getByText('accepted').first().waitFor();
    steps.push(`burst refused, justified, accepted; alert live in ${liveMs} ms`);
  });

  test('a register-ip session registers today\'s IP and turns FULL', async () => {
    const home = await newPage({ 'x-forwarded-for': HOME_IP });
    await firstAttempt(home, 'hana@bank.example', 'Hana');
    await approve('hana@bank.example', 'Hana Home', 'developer', '+4915100000003');
    await googleAndSms(home, 'hana@bank.example', 'Hana');
    const step = Math.floor(Date.now() / 30_000);
    const secret = await enrol(home, 'totp', (s) => totpAt(s, step));
    await finish(home, totpAt(secret, step + 1));
    assert.equal((await home.getByTestId('scope').innerText()).trim(), 'REGISTER_IP_ONLY', 'from a home IP the session may only register it');
    assert.equal((await home.getByTestId('pinned-ip').innerText()).trim(), HOME_IP);
    await home.getByTestId('countdown').waitFor();
    const onlyButton = home.getByRole('button', { name: "Register today's IP" });
    await shot(home, 'today-register-ip');
    await onlyButton.click();
    await home.getByTestId('scope').filter({ hasText: /^FULL$/ }).waitFor();
    // From outside: the daily IP is on the allowlist now (Check as a backend would ask).
    const me = (await (await home.request.get('/api/me')).json()) as { scope: string; pinnedIp: string };
    assert.deepEqual({ scope: me.scope, pinnedIp: me.pinnedIp }, { scope: 'full', pinnedIp: HOME_IP });
    steps.push('register-ip session -> FULL');
  });

  test('audit and access log pages: typed filters, export, checkpoint key; the access log shows display names, never an e-mail', async () => {
    await officer.goto('/#/audit');
    await officer.getByLabel('Service').selectOption('impersonation');
    await officer.getByRole('button', { name: 'Search' }).click();
    await officer.getByRole('cell', { name: 'impersonation' }).first().waitFor();
    await officer.getByText(/BEGIN|[A-Za-z0-9+/]{43}=/).first().waitFor();
    await shot(officer, 'audit');
    const exported = await officer.request.get('/api/audit/export');
    assert.equal(exported.status(), 200);
    const lines = (await exported.text()).trim().split('\n');
    assert.ok('header' in (JSON.parse(lines[0] ?? '{}') as object), 'the export starts with its header, as `gatehouse audit export` writes it');
    await officer.goto('/#/access-log');
    await officer.getByLabel('Customer domain').fill('acme.example');
    await officer.getByRole('button', { name: 'Show access' }).click();
    await officer.getByRole('cell', { name: 'cust-3' }).waitFor();
    const table = await officer.locator('main').innerText();
    assert.match(table, /Sam Support/, 'the employee by display name');
    assert.doesNotMatch(table, /@bank\.example/, 'no employee e-mail in the access log');
    await shot(officer, 'access-log');
    steps.push('audit search + export + checkpoint, access log');
  });

  test('own sessions are listed with a revoke button; revoking one signs that browser out everywhere', async () => {
    await support.goto('/#/today');
    const row = support.getByRole('button', { name: /^Revoke session / }).first();
    await row.waitFor();
    await row.click();
    await support.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
    const me = await support.request.get('/api/me');
    assert.equal(me.status(), 401, 'the revoked session no longer works');
    steps.push('session revoked from the Today page');
    const log = web.stderr.join('');
    assert.ok(shown.length >= 5, 'setup keys and tokens were shown');
    for (const secret of shown) assert.ok(!log.includes(secret), 'the console never logs a secret it showed');
  });
});
