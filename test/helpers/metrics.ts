// Reading a running cradled's Prometheus metrics in tests.
import type { Cradled } from './daemon';

/** The daemon's /metrics text; the address comes from its log (a restart picks a new port). */
export async function scrapeMetrics(daemon: Cradled): Promise<string> {
  const line = [...daemon.logRecords()].reverse().find((r) => r.msg === 'metrics server listening');
  if (!line) throw new Error('the daemon logged no metrics server address (started without --metrics-enable?)');
  return (await fetch(`http://${String(line.address)}/metrics`)).text();
}

/** The value of one series (`name{labels}` as exposed), or undefined when it is absent. */
export function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
