import type { IncomingMessage } from 'node:http';
import { cidrContains, parseCidr, tryParseIp, type ParsedCidr } from '@gatehouse/ip';

/**
 * The browser's IP as the console relays it to the services (which pin sessions to it): the TCP
 * peer, or, when the peer is one of the configured proxies, the last X-Forwarded-For entry that
 * proxy appended. Nobody else can choose the IP (issue 16 item 2, issue 13 item 3).
 */
export class ClientIpResolver {
  private readonly proxies: ParsedCidr[];

  constructor(trustedProxies: readonly string[]) {
    this.proxies = trustedProxies.map((c) => parseCidr(c.includes('/') ? c : `${c}/${c.includes(':') ? 128 : 32}`, { minPrefixV4: 1, minPrefixV6: 1, normalize: true, field: 'GATEHOUSE_CONSOLE_TRUSTED_PROXIES' }).cidr);
  }

  of(req: IncomingMessage): string {
    const peer = tryParseIp(req.socket.remoteAddress ?? '');
    if (!peer) return req.socket.remoteAddress ?? '';
    if (!this.proxies.some((c) => cidrContains(c, peer))) return peer.canonical;
    const header = req.headers['x-forwarded-for'];
    const last = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').pop()?.trim() ?? '';
    return tryParseIp(last)?.canonical ?? peer.canonical;
  }
}
