import { checkHealth, type HealthReport } from '@gatehouse/service-kit';
import { SERVICE_NAMES, securityFor, type CliSettings } from '../settings.js';

/** `gatehouse status`: each service's health, version and address, over mTLS. Exit 1 if any is not SERVING. */
export async function status(settings: CliSettings, out: (line: string) => void, json: boolean): Promise<number> {
  const reports: Array<HealthReport & { name: string }> = await Promise.all(
    SERVICE_NAMES.map(async (name) => {
      try {
        return { name, ...(await checkHealth(settings.address(name), await securityFor(settings, name))) };
      } catch (err) {
        return { name, address: settings.address(name), status: 'ERROR', error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
  if (json) {
    out(JSON.stringify(reports.map((r) => ({ service: r.name, address: r.address, status: r.status, version: r.version ?? null, error: r.error ?? null }))));
  } else {
    out(`${'SERVICE'.padEnd(15)}${'ADDRESS'.padEnd(22)}${'VERSION'.padEnd(14)}HEALTH`);
    for (const r of reports) {
      out(`${r.name.padEnd(15)}${r.address.padEnd(22)}${(r.version ?? '-').padEnd(14)}${r.status}${r.error ? `  (${r.error})` : ''}`);
    }
  }
  return reports.every((r) => r.status === 'SERVING') ? 0 : 1;
}
