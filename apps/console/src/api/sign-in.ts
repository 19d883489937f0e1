import QRCode from 'qrcode';
import type { EnrollView, MeView, SignInStep, SignInView, SmsSentView } from '@gatehouse/console-api';
import { identityV1 } from '@gatehouse/contracts';
import { rpc } from '../backends.js';
import { oneOf, text } from '../http/http-kit.js';
import { iso, meView, rolesView } from '../views.js';
import type { ApiContext } from './context.js';

/** The sign-in steps (issue 16 item 2): the same RPCs as `gatehouse login`, one page step each. */
export function signInView(s: identityV1.SignInState | undefined, prev?: SignInView): SignInView {
  const step: Record<number, SignInStep> = {
    [identityV1.SignInStep.SIGN_IN_STEP_SMS_CODE]: 'sms',
    [identityV1.SignInStep.SIGN_IN_STEP_OTP_ENROLLMENT]: 'otp_enrollment',
    [identityV1.SignInStep.SIGN_IN_STEP_OTP_CODE]: 'otp',
  };
  const kind = s?.otpKind === identityV1.OtpKind.OTP_KIND_TOTP ? 'totp' : s?.otpKind === identityV1.OtpKind.OTP_KIND_HOTP ? 'hotp' : (prev?.otpKind ?? '');
  return {
    email: s?.email ?? prev?.email ?? '',
    nextStep: step[s?.nextStep ?? 0] ?? 'google',
    phoneNumberMask: s?.phoneNumberMask || prev?.phoneNumberMask || '',
    otpKind: kind,
    expiresAt: iso(s?.expiresAt) || prev?.expiresAt || '',
  };
}

const code = (ctx: ApiContext) => text(ctx.body, 'code', { required: true, max: 16 });

export const signInHandlers = {
  'GET /api/sign-in': (ctx: ApiContext): SignInView => ctx.signIn().view,

  'POST /api/sign-in/sms/send': async (ctx: ApiContext): Promise<SmsSentView> => {
    const s = ctx.signIn();
    const b = ctx.backends.identity;
    const r = await rpc(b, b.sendSmsCode, { signInId: s.signInId }, ctx.anonymous);
    const view = signInView(r.state, s.view);
    ctx.setSignIn({ signInId: s.signInId, view });
    return { ...view, codeExpiresAt: iso(r.codeExpiresAt), resendsRemaining: r.resendsRemaining };
  },

  'POST /api/sign-in/sms/verify': async (ctx: ApiContext): Promise<SignInView> => {
    const s = ctx.signIn();
    const b = ctx.backends.identity;
    const r = await rpc(b, b.verifySmsCode, { signInId: s.signInId, code: code(ctx) }, ctx.anonymous);
    const view = signInView(r.state, s.view);
    ctx.setSignIn({ signInId: s.signInId, view });
    return view;
  },

  'POST /api/sign-in/otp/enroll': async (ctx: ApiContext): Promise<EnrollView> => {
    const s = ctx.signIn();
    const kind = oneOf(ctx.body, 'kind', ['totp', 'hotp'] as const);
    const b = ctx.backends.identity;
    const r = await rpc(
      b,
      b.enrollOtp,
      identityV1.EnrollOtpRequest.fromPartial({ signInId: s.signInId, kind: kind === 'totp' ? identityV1.OtpKind.OTP_KIND_TOTP : identityV1.OtpKind.OTP_KIND_HOTP, label: 'Gatehouse console' }),
      ctx.anonymous,
    );
    ctx.setSignIn({ signInId: s.signInId, view: { ...s.view, otpKind: kind } });
    // The secret is in the URI: shown once to this browser, never logged or stored by the console.
    const qrSvg = await QRCode.toString(r.otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return { credentialId: r.credentialId, otpauthUri: r.otpauthUri, qrSvg, confirmBy: iso(r.confirmBy) };
  },

  'POST /api/sign-in/otp/confirm': async (ctx: ApiContext): Promise<SignInView> => {
    const s = ctx.signIn();
    const b = ctx.backends.identity;
    const r = await rpc(b, b.confirmOtpEnrollment, { credentialId: text(ctx.body, 'credentialId', { required: true, max: 128 }), code: code(ctx), signInId: s.signInId }, ctx.anonymous);
    const view = signInView(r.state, s.view);
    ctx.setSignIn({ signInId: s.signInId, view });
    return view;
  },

  'POST /api/sign-in/otp/verify': async (ctx: ApiContext): Promise<MeView> => {
    const s = ctx.signIn();
    const b = ctx.backends.identity;
    const r = await rpc(b, b.verifyOtp, { signInId: s.signInId, code: code(ctx) }, ctx.anonymous);
    const info = r.session?.info;
    ctx.setSignIn(undefined);
    ctx.setSession(
      { token: r.session?.token ?? '', sessionId: info?.sessionId ?? '', accountId: info?.principal?.accountId ?? '', roles: rolesView(info?.principal?.roles ?? []) },
      iso(info?.absoluteExpiresAt),
    );
    return meView(undefined, info, ctx.dailyCutoff());
  },
};
