import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IdentityServiceClient} from '@gatehouse/contracts';
import { identityV1 } from '@gatehouse/contracts';
import { systemClock } from '@gatehouse/core';
import { DEV_CLIENT_ID, DevIdTokenIssuer } from '@gatehouse/dev-issuer';
import { call } from '@gatehouse/service-kit';

/** RFC 4226 HOTP (SHA-1, 6 digits), written here independently of identity's code. */
export function hotp(secretBase32: string, counter: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secretBase32.replace(/=+$/, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const c = Buffer.alloc(8);
  c.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(c).digest();
  const offset = (mac[mac.length - 1] as number) & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** An enrolled HOTP device: its secret and the next counter it will show. */
export interface Device {
  secret: string;
  counter: number;
}

/**
 * A person's sign-in against real identity processes in dev mode, over gRPC: Google through the
 * dev issuer (its key in identity's data folder), the SMS code from the dev sink (identity's
 * output, `output()`), and an HOTP device computed independently. Shared by the e2e suites
 * that sign people in (revocation, replicas).
 */
export function devSignIn(o: { identity: () => IdentityServiceClient; dataDir: string; output: () => string }) {
  const dev = new DevIdTokenIssuer({ clock: systemClock, privateKeyPem: fs.readFileSync(path.join(o.dataDir, 'identity-dev-issuer-key.pem'), 'utf8') });
  const idToken = (email: string) => dev.issue({ email, audience: DEV_CLIENT_ID, name: email.split('@')[0] ?? 'someone' });
  const smsCount = () => o.output().split('DEV SMS').length;
  /** The newest SMS code the dev sink printed after `seen` earlier ones. */
  async function smsCode(seen: number): Promise<string> {
    for (let i = 0; i < 200; i++) {
      const parts = o.output().split('DEV SMS');
      if (parts.length > seen) return /sign-in code: (\d+)/.exec(parts[parts.length - 1] ?? '')?.[1] ?? '';
      await sleep(25);
    }
    throw new Error('no SMS code reached the dev sink');
  }
  /** Google and SMS done: the sign-in waits for its OTP step. */
  async function pastSms(email: string): Promise<string> {
    const c = o.identity();
    const begun = await call(c, c.beginSignIn, { googleIdToken: idToken(email) });
    const signInId = begun.state?.signInId ?? '';
    const seen = smsCount();
    await call(c, c.sendSmsCode, { signInId });
    await call(c, c.verifySmsCode, { signInId, code: await smsCode(seen) });
    return signInId;
  }
  /** A first sign-in: enrols an HOTP device, confirms it, and finishes with its next code. */
  async function firstSignIn(email: string): Promise<{ token: string; accountId: string; device: Device }> {
    const c = o.identity();
    const signInId = await pastSms(email);
    const enrolled = await call(c, c.enrollOtp, identityV1.EnrollOtpRequest.fromPartial({ signInId, kind: identityV1.OtpKind.OTP_KIND_HOTP }));
    const device = { secret: new URL(enrolled.otpauthUri).searchParams.get('secret') ?? '', counter: 0 };
    await call(c, c.confirmOtpEnrollment, { credentialId: enrolled.credentialId, code: hotp(device.secret, device.counter++), signInId });
    const done = await call(c, c.verifyOtp, { signInId, code: hotp(device.secret, device.counter++) });
    return { token: done.session?.token ?? '', accountId: done.session?.info?.principal?.accountId ?? '', device };
  }
  /** The officer's bootstrap: the one-time token in identity's data folder, then a first sign-in. */
  async function bootstrapOfficer(email: string, phoneNumber: string) {
    const c = o.identity();
    const bootstrapToken = fs.readFileSync(path.join(o.dataDir, 'identity-bootstrap-token'), 'utf8').trim();
    await call(c, c.bootstrapOfficer, { bootstrapToken, googleIdToken: idToken(email), phoneNumber });
    return firstSignIn(email);
  }
  return { idToken, smsCount, smsCode, pastSms, firstSignIn, bootstrapOfficer };
}
