export {
  DEFAULT_SMS_POLICY,
  validateSmsPolicy,
  randomCode,
  smsCodeHash,
  issueSmsCode,
  checkSmsCode,
  smsText,
  type SmsPolicy,
  type SmsChallenge,
  type SmsGateway,
} from './sms-code.js';
