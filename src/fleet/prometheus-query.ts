// Instant queries against Prometheus's HTTP API (/api/v1/query): the vectors the fleet report is built from.
import { FleetError } from './fleet-error.js';

/** One sample of an instant vector: its labels and value. */
export interface PromSample {
  labels: Record<string, string>;
  value: number;
}

interface PromResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/** The base URL without credentials, for messages. */
function shown(base: string): string {
  try {
    const u = new URL(base);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return base;
  }
}

/** Runs one instant query; throws FleetError when Prometheus is unreachable or refuses it. */
export async function queryInstant(base: string, promql: string, timeoutMs: number): Promise<PromSample[]> {
  let url: URL;
  try {
    url = new URL('api/v1/query', base.endsWith('/') ? base : `${base}/`);
  } catch {
    throw new FleetError('prometheus-unreachable', `--prometheus "${base}" is not a URL (e.g. http://prometheus:9090)`);
  }
  url.searchParams.set('query', promql);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (url.username) {
    headers['authorization'] =
      `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new FleetError('prometheus-unreachable', `cannot reach Prometheus at ${shown(base)}: ${cause}`, { cause: e });
  }
  const text = await res.text();
  let body: PromResponse;
  try {
    body = JSON.parse(text) as PromResponse;
  } catch {
    throw new FleetError(
      'prometheus-query-failed',
      `${shown(base)} answered HTTP ${res.status} without a Prometheus API response: is it Prometheus? (${text.slice(0, 120)})`,
    );
  }
  if (body.status !== 'success' || !body.data)
    throw new FleetError(
      'prometheus-query-failed',
      `Prometheus refused the query ${promql}: ${body.errorType ?? 'error'}: ${body.error ?? `HTTP ${res.status}`}`,
    );
  if (body.data.resultType !== 'vector')
    throw new FleetError('prometheus-query-failed', `query ${promql} gave a ${body.data.resultType}, not a vector`);
  return body.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
}
