/**
 * Reads one series from a service's /metrics port the way Prometheus does (plain HTTP, text
 * exposition), so a metrics test asserts what an operator's dashboard and alert rules see.
 * `labels` picks the series carrying those label values (others, such as gatehouse_service, may
 * be there too); undefined when no such series is exported.
 */
export async function scrapeMetric(port: number, name: string, labels: Readonly<Record<string, string>> = {}): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics on port ${port} answered ${res.status}`);
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const open = line.indexOf('{');
    const set = open === name.length ? line.slice(open + 1, line.indexOf('}')).split(',') : [];
    if (wanted.every((w) => set.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}
