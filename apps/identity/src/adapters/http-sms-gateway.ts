import { UnavailableError } from '@gatehouse/core';
import type { SmsGateway } from '../domain/sms/index.js';

/** Options of the HTTP SMS gateway. */
export interface HttpSmsGatewayOptions {
  /** The provider's endpoint; https, or http on loopback only (tests, a local relay). */
  url: string;
  /** Bearer credential for the provider (from the secrets service at deployment); never logged. */
  apiKey: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * Sends SMS through a provider's JSON HTTP API: POST {to, text} with a bearer key. Any non-2xx
 * answer, timeout or network error is UNAVAILABLE for the sign-in (the code was not delivered);
 * the error names the status, never the message text (it holds the code).
 */
export class HttpSmsGateway implements SmsGateway {
  private readonly fetch: typeof fetch;

  constructor(private readonly o: HttpSmsGatewayOptions) {
    const u = new URL(o.url);
    const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) throw new Error('the SMS gateway URL must be https (plain http only on loopback)');
    this.fetch = o.fetch ?? fetch;
  }

  async send(phoneNumber: string, text: string): Promise<void> {
    if (!/^\+[1-9]\d{6,14}$/.test(phoneNumber)) throw new UnavailableError('the account has no valid E.164 phone number on file');
    let res: Response;
    try {
      res = await this.fetch(this.o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.o.apiKey}` },
        body: JSON.stringify({ to: phoneNumber, text }),
        redirect: 'error',
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 5_000),
      });
    } catch (err) {
      throw new UnavailableError(`the SMS gateway could not be reached (${err instanceof Error ? err.name : 'error'}); try again`);
    }
    await res.body?.cancel();
    if (!res.ok) throw new UnavailableError(`the SMS gateway refused the message (HTTP ${res.status}); try again`);
  }
}

/**
 * Dev mode only: "sends" by handing the message to a callback (the dev stack prints it), so a
 * developer can sign in without a phone. The wiring refuses it outside GATEHOUSE_ENV=dev.
 */
export class DevSmsSink implements SmsGateway {
  constructor(private readonly deliver: (phoneNumber: string, text: string) => void) {}

  async send(phoneNumber: string, text: string): Promise<void> {
    this.deliver(phoneNumber, text);
  }
}
