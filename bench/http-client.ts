/**
 * A lean JSON client for the load generator: node:http over a keep-alive Agent, so connections are
 * reused and the client's own CPU cost (on the same cores as Berth) stays small.
 */
import http from 'node:http';

export interface JsonResponse {
  readonly status: number;
  readonly body: any;
}

export class BenchClient {
  readonly #agent: http.Agent;
  readonly #host: string;
  readonly #port: number;

  constructor(baseUrl: string, maxSockets: number) {
    const url = new URL(baseUrl);
    this.#host = url.hostname;
    this.#port = Number(url.port);
    this.#agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const request = http.request({
        agent: this.#agent, host: this.#host, port: this.#port, method, path,
        headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': payload.length },
      }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: response.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) });
          } catch (error) {
            reject(new Error(`${method} ${path}: HTTP ${response.statusCode}, body is not JSON: ${text.slice(0, 200)}`, { cause: error }));
          }
        });
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end(payload);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/**
 * Submits one task and holds the request until it is final (`Prefer: wait`); if the wait runs
 * out first (202), keeps waiting with GET /tasks/{id}?wait=. Fails unless the task succeeded with
 * its input echoed back.
 */
export async function runTaskThroughBerth(client: BenchClient, input: unknown, waitSeconds = 60): Promise<BerthTaskTiming> {
  const sentAt = Date.now();
  const submitted = await client.request('POST', '/tasks', { runner: 'echo', input }, { prefer: `wait=${waitSeconds}` });
  let task = submitted.body as { id: string; status: string; output: unknown };
  if (submitted.status !== 200 && submitted.status !== 202) throw new Error(`POST /tasks: HTTP ${submitted.status} ${JSON.stringify(task)}`);
  const deadline = Date.now() + 120_000;
  while (task.status === 'queued' || task.status === 'running') {
    if (Date.now() > deadline) throw new Error(`task ${task.id} not final after 120 s`);
    const read = await client.request('GET', `/tasks/${task.id}?wait=${waitSeconds}`);
    if (read.status !== 200) throw new Error(`GET /tasks/${task.id}: HTTP ${read.status} ${JSON.stringify(read.body)}`);
    task = read.body;
  }
  if (task.status !== 'succeeded' || JSON.stringify(task.output) !== JSON.stringify(input)) {
    throw new Error(`task ${task.id} ended ${task.status}: ${JSON.stringify(task)}`);
  }
  return { id: task.id, sentAt, answeredAt: Date.now() };
}

/** Wall-clock times (ms since the epoch, same clock as PostgreSQL's now()) of one task seen by the client. */
export interface BerthTaskTiming {
  readonly id: string;
  readonly sentAt: number;
  readonly answeredAt: number;
}
