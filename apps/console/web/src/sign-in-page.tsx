import { useEffect, useId, useState } from 'preact/hooks';
import { PLAIN_ROUTES } from '@gatehouse/console-api';
import type { EnrollView, MeView, OtpKind, SignInView, SmsSentView } from '@gatehouse/console-api';
import { ApiCallError, call } from './api';
import { useAction } from './hooks';
import { ErrorAlert, Notice, OneFieldForm, PageTitle, RadioField, TextField, Time } from './ui';
import type { OneFieldFormProps } from './ui';

type Stage =
  | { kind: 'loading' }
  | { kind: 'google'; error?: unknown }
  | { kind: 'failed'; error: unknown }
  | { kind: 'step'; view: SignInView };

/** Whether a refusal means there is no pending sign-in: start again at Google. */
function isNotSignedIn(error: unknown): boolean {
  return error instanceof ApiCallError && (error.code === 'NOT_SIGNED_IN' || error.status === 401);
}

/**
 * The sign-in page: Google first (a full-page navigation, the callback is server-side), then
 * the SMS code, authenticator enrolment on first sign-in, and the one-time code.
 */
export function SignInPage(props: { notice?: string | undefined; onSignedIn: (me: MeView) => void }) {
  const [stage, setStage] = useState<Stage>({ kind: 'loading' });
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    let current = true;
    setStage({ kind: 'loading' });
    call('GET /api/sign-in').then(
      (view) => {
        if (!current) return;
        setStage(view.nextStep === 'google' ? { kind: 'google' } : { kind: 'step', view });
      },
      (error: unknown) => {
        if (!current) return;
        setStage(isNotSignedIn(error) ? { kind: 'google' } : { kind: 'failed', error });
      },
    );
    return () => {
      current = false;
    };
  }, [generation]);

  /** A step's call failed because the pending sign-in is gone: back to Google, keeping the message. */
  const restart = (error: unknown) => setStage({ kind: 'google', error });

  return (
    <div class="sign-in">
      <PageTitle>Sign in to Gatehouse</PageTitle>
      {props.notice && (
        <p role="alert" class="alert">
          {props.notice}
        </p>
      )}
      {stage.kind === 'loading' && <p class="muted">Loading…</p>}
      {stage.kind === 'failed' && (
        <>
          <ErrorAlert error={stage.error} />
          <button type="button" onClick={() => setGeneration((g) => g + 1)}>
            Try again
          </button>
        </>
      )}
      {stage.kind === 'google' && <GoogleStep error={stage.error} />}
      {stage.kind === 'step' && (
        <section class="card" aria-label="Sign-in step">
          <p>
            Signing in as <strong data-testid="sign-in-email">{stage.view.email}</strong>. This sign-in expires at{' '}
            <Time iso={stage.view.expiresAt} />.
          </p>
          {stage.view.nextStep === 'sms' && (
            <SmsStep view={stage.view} onView={(view) => setStage({ kind: 'step', view })} onRestart={restart} />
          )}
          {stage.view.nextStep === 'otp_enrollment' && (
            <EnrollStep onView={(view) => setStage({ kind: 'step', view })} onRestart={restart} />
          )}
          {stage.view.nextStep === 'otp' && (
            <OtpStep view={stage.view} onSignedIn={props.onSignedIn} onRestart={restart} />
          )}
        </section>
      )}
    </div>
  );
}

function GoogleStep({ error }: { error?: unknown }) {
  return (
    <section class="card" aria-label="Sign in with your Google account">
      <ErrorAlert error={error} />
      <p>Use your company Google account. You will then confirm your phone and your authenticator.</p>
      <p>
        <a class="button" href={PLAIN_ROUTES.googleStart}>
          Sign in with Google
        </a>
      </p>
    </section>
  );
}

interface StepProps {
  onView: (view: SignInView) => void;
  onRestart: (error: unknown) => void;
}

/** Runs a step's calls; when they fail because the pending sign-in is gone, also starts again at Google. */
async function orRestart(onRestart: (error: unknown) => void, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error: unknown) {
    if (error instanceof ApiCallError && error.code === 'NOT_SIGNED_IN') onRestart(error);
    throw error;
  }
}

/** A one-time code's form: a numeric field the browser may fill in as a one-time code, and its submit button. */
function CodeForm(props: Omit<OneFieldFormProps, 'inputMode' | 'autoComplete'>) {
  return <OneFieldForm {...props} inputMode="numeric" autoComplete="one-time-code" />;
}

function SmsStep(props: StepProps & { view: SignInView }) {
  const send = useAction();
  const verify = useAction();
  const [sent, setSent] = useState<SmsSentView | undefined>(undefined);
  const [code, setCode] = useState('');

  const onSend = () =>
    void send.run(() =>
      orRestart(props.onRestart, async () => {
        setSent(await call('POST /api/sign-in/sms/send', {}));
      }),
    );

  const onVerify = () =>
    void verify.run(() =>
      orRestart(props.onRestart, async () => {
        const view = await call('POST /api/sign-in/sms/verify', { code: code.trim() });
        setCode('');
        props.onView(view);
      }),
    );

  return (
    <div>
      <h2>Confirm your phone</h2>
      <p>
        We send a code by SMS to <strong data-testid="phone-mask">{props.view.phoneNumberMask}</strong>.
      </p>
      <p>
        <button type="button" onClick={onSend} disabled={send.busy}>
          Send SMS code
        </button>
      </p>
      <ErrorAlert error={send.error} />
      {sent && (
        <Notice>
          Code sent. It expires at <Time iso={sent.codeExpiresAt} />; {sent.resendsRemaining} resend
          {sent.resendsRemaining === 1 ? '' : 's'} left.
        </Notice>
      )}
      <CodeForm
        label="SMS code"
        value={code}
        onValue={setCode}
        submit="Verify SMS code"
        busy={verify.busy}
        onSubmit={onVerify}
      />
      <ErrorAlert error={verify.error} />
    </div>
  );
}

/** The QR code as a data URI (the CSP allows data: images only); UTF-8 safe base64. */
function svgDataUri(svg: string): string {
  const bytes = new TextEncoder().encode(svg);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

function EnrollStep(props: StepProps) {
  const enroll = useAction();
  const confirm = useAction();
  const [kind, setKind] = useState<OtpKind>('totp');
  const [enrolment, setEnrolment] = useState<EnrollView | undefined>(undefined);
  const [code, setCode] = useState('');
  const legendId = useId();

  const onEnroll = (event: Event) => {
    event.preventDefault();
    void enroll.run(async () => {
      setEnrolment(undefined);
      await orRestart(props.onRestart, async () => {
        setEnrolment(await call('POST /api/sign-in/otp/enroll', { kind }));
      });
    });
  };

  const onConfirm = () => {
    if (!enrolment) return;
    void confirm.run(() =>
      orRestart(props.onRestart, async () => {
        const view = await call('POST /api/sign-in/otp/confirm', {
          credentialId: enrolment.credentialId,
          code: code.trim(),
        });
        // The secret is not kept once the device is confirmed.
        setEnrolment(undefined);
        setCode('');
        props.onView(view);
      }),
    );
  };

  return (
    <div>
      <h2>Set up your authenticator</h2>
      <form onSubmit={onEnroll}>
        <fieldset role="radiogroup" aria-labelledby={legendId}>
          <legend id={legendId}>Authenticator type</legend>
          <RadioField name="otp-kind" value="totp" label="TOTP (time-based)" checked={kind === 'totp'} onPick={setKind} />
          <RadioField
            name="otp-kind"
            value="hotp"
            label="HOTP (counter-based)"
            checked={kind === 'hotp'}
            onPick={setKind}
          />
        </fieldset>
        <button type="submit" disabled={enroll.busy}>
          Set up authenticator
        </button>
      </form>
      <ErrorAlert error={enroll.error} />
      {enrolment && (
        <div class="enrolment">
          <p>Scan the QR code with your authenticator app, or enter the setup key by hand. It is shown only now.</p>
          <img class="qr" alt="QR code for your authenticator" src={svgDataUri(enrolment.qrSvg)} />
          <TextField label="Setup key (otpauth URI)" value={enrolment.otpauthUri} readOnly />
          <p>
            Confirm before <Time iso={enrolment.confirmBy} />.
          </p>
          <CodeForm
            label="Authenticator code"
            value={code}
            onValue={setCode}
            submit="Confirm authenticator"
            busy={confirm.busy}
            onSubmit={onConfirm}
          />
          <ErrorAlert error={confirm.error} />
        </div>
      )}
    </div>
  );
}

function OtpStep(props: { view: SignInView; onSignedIn: (me: MeView) => void; onRestart: (error: unknown) => void }) {
  const verify = useAction();
  const [code, setCode] = useState('');

  const onVerify = () =>
    void verify.run(() =>
      orRestart(props.onRestart, async () => {
        const me = await call('POST /api/sign-in/otp/verify', { code: code.trim() });
        setCode('');
        props.onSignedIn(me);
      }),
    );

  const device = props.view.otpKind ? ` (${props.view.otpKind.toUpperCase()})` : '';
  return (
    <div>
      <h2>Enter your one-time code</h2>
      <p>Open your authenticator{device} and enter the current code.</p>
      <CodeForm
        label="One-time code"
        value={code}
        onValue={setCode}
        submit="Sign in"
        busy={verify.busy}
        onSubmit={onVerify}
      />
      <ErrorAlert error={verify.error} />
    </div>
  );
}
