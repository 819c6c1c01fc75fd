/**
 * The baseline: the fastest correct way we know to run one `cat` task against the engine with
 * nothing of Berth in between, in plain node:http against the Engine API. It deliberately does
 * NOT copy Berth's container options or code: a baseline that did would pay the same hidden costs
 * and hide them. Per task:
 *   create  minimal: image, command, OpenStdin + StdinOnce, labels (so the bench can clean up);
 *           NetworkMode none (Podman turns an unset mode into a bridge) and NetworkDisabled (Docker
 *           otherwise builds a network sandbox, about 100 ms per container; Podman ignores it);
 *           no hardening options (measured here: they cost nothing on either engine, so leaving
 *           them out only keeps the baseline minimal);
 *   attach  one hijacked connection for stdin, stdout and stderr (`cat` reads all its input, so
 *           Podman's broken-pipe noise, the reason Berth keeps a second one there, cannot occur);
 *   wait    condition next-exit, sent before start so a fast exit is not missed and no request
 *           is left for after the output;
 *   start, write the input and half-close (the EOF), read stdout until the engine ends the stream,
 *   exit code from the wait's answer (no inspect unless the wait is lost), remove (DELETE, force).
 * Ordinary requests share a keep-alive agent (no connection set-up per request). Tried and not
 * faster on Docker: AutoRemove with wait condition=removed instead of the DELETE.
 * The attach has no request body (dockerode's would reach the program as stdin, dockerode
 * #742/#777), so the program receives exactly the input.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { httpTarget, type EngineAddress } from '../src/engine/engine-socket.ts';
import { BENCH_COMMAND, BENCH_IMAGE, BENCH_INSTANCE, MANAGED_BY_LABEL, RAW_LABEL, type EngineTarget } from './engine-target.ts';

export interface RawResult {
  readonly exitCode: number;
  readonly stdout: Buffer;
}

const agents = new WeakMap<EngineTarget, http.Agent>();

function agentFor(target: EngineTarget): http.Agent {
  let agent = agents.get(target);
  if (agent === undefined) {
    agent = new http.Agent({ keepAlive: true });
    agents.set(target, agent);
  }
  return agent;
}

export async function runRawTask(target: EngineTarget, input: unknown): Promise<RawResult> {
  const stdin = Buffer.from(`${JSON.stringify(input)}\n`, 'utf8');
  const agent = agentFor(target);
  const created = await request(target.address, agent, 'POST', '/containers/create', {
    Image: BENCH_IMAGE,
    Cmd: [...BENCH_COMMAND],
    Labels: { [MANAGED_BY_LABEL]: BENCH_INSTANCE, [RAW_LABEL]: 'true' },
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    NetworkDisabled: true,
    HostConfig: { NetworkMode: 'none' },
  });
  expectStatus(created, 201, 'create');
  const id = (created.body as { Id: string }).Id;
  try {
    const socket = await attach(target.address, id);
    try {
      const output = readStdout(socket);
      const exited = request(target.address, agent, 'POST', `/containers/${id}/wait?condition=next-exit`);
      // If start fails, nobody awaits this wait; it ends (or fails) when the container is removed.
      exited.catch(() => undefined);
      expectStatus(await request(target.address, agent, 'POST', `/containers/${id}/start`), 204, 'start');
      socket.end(stdin);
      const stdout = await output;
      return { exitCode: await exitCodeOf(target, agent, id, exited), stdout };
    } finally {
      socket.destroy();
    }
  } finally {
    const removed = await request(target.address, agent, 'DELETE', `/containers/${id}?force=true`);
    if (removed.status !== 204 && removed.status !== 404 && removed.status !== 409) expectStatus(removed, 204, 'remove');
  }
}

/**
 * The wait's answer, or inspect's once the wait is 2 s late: Podman can lose a next-exit wait
 * that it handles after a fast exit (src/engine/docker-engine.ts, readExit), and a baseline that
 * hung there would stall the whole run. Costs nothing while the wait answers.
 */
async function exitCodeOf(target: EngineTarget, agent: http.Agent, id: string, exited: Promise<Answer>): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  let answered = false;
  const late = new Promise<number>((resolve, reject) => {
    const look = (): void => {
      request(target.address, agent, 'GET', `/containers/${id}/json`).then((answer) => {
        const state = (answer.body as { State?: { Running?: boolean; ExitCode?: number } }).State;
        if (state?.Running === false && typeof state.ExitCode === 'number') resolve(state.ExitCode);
        else if (!answered) timer = setTimeout(look, 1_000);
      }, reject);
    };
    timer = setTimeout(look, 2_000);
  });
  try {
    return await Promise.race([exited.then((exit) => {
      expectStatus(exit, 200, 'wait');
      return (exit.body as { StatusCode: number }).StatusCode;
    }), late]);
  } finally {
    answered = true;
    clearTimeout(timer);
  }
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

function expectStatus(answer: Answer, status: number, what: string): void {
  if (answer.status !== status) throw new Error(`raw ${what}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
}

function request(address: EngineAddress, agent: http.Agent, method: string, path: string, body?: unknown): Promise<Answer> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const headers = data === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': data.length };
    const sent = http.request({ ...httpTarget(address), agent, method, path, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = text === '' ? undefined : JSON.parse(text);
        } catch {
          // Not JSON: kept as text for the error message.
        }
        resolve({ status: response.statusCode ?? 0, body: parsed });
      });
      response.on('error', reject);
    });
    sent.on('error', reject);
    sent.end(data);
  });
}

function attach(address: EngineAddress, id: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sent = http.request({
      ...httpTarget(address),
      method: 'POST',
      path: `/containers/${id}/attach?stream=true&stdin=true&stdout=true&stderr=true`,
      headers: { Connection: 'Upgrade', Upgrade: 'tcp' },
    });
    sent.on('upgrade', (_response, socket: Socket, head: Buffer) => {
      if (head.length > 0) socket.unshift(head);
      socket.on('error', () => undefined);
      resolve(socket);
    });
    sent.on('response', (response) => {
      response.resume();
      reject(new Error(`attach to ${id} refused: HTTP ${response.statusCode}`));
    });
    sent.on('error', reject);
    sent.end();
  });
}

/**
 * Collects the stdout frames of the multiplexed stream (8-byte headers) until the engine ends it:
 * the end of the output, which on a connection that also carried stdin comes before its close.
 */
function readStdout(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      const all = Buffer.concat(chunks);
      const stdout: Buffer[] = [];
      for (let at = 0; at < all.length;) {
        if (at + 8 > all.length) return reject(new Error('attach stream ended inside a frame header'));
        const length = all.readUInt32BE(at + 4);
        if (all[at] === 1) stdout.push(all.subarray(at + 8, at + 8 + length));
        at += 8 + length;
      }
      resolve(Buffer.concat(stdout));
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', finish);
    socket.on('close', finish);
  });
}

/** Runs one task and checks that the program received exactly the input (no leaked attach options). */
export async function runRawChecked(target: EngineTarget, input: unknown): Promise<void> {
  const result = await runRawTask(target, input);
  const expected = JSON.stringify(input);
  if (result.exitCode !== 0 || result.stdout.toString('utf8').trim() !== expected) {
    throw new Error(`raw task: exit ${result.exitCode}, stdout ${JSON.stringify(result.stdout.toString('utf8'))}, expected ${expected}`);
  }
}
