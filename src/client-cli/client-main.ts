/**
 * Runs one client command against a running Berth: reads the command line and the environment
 * (BERTH_URL, BERTH_API_KEY, NO_COLOR), builds the SDK client and the terminal, and turns every
 * failure into one sentence on stderr and its exit code (exit-codes.ts). Loaded by cli.ts only for
 * these commands, so they start without the server's modules.
 */
import { createClient } from '../client/index.ts';
import { CLIENT_USAGE, parseClientArgs, type ClientCommand } from './client-args.ts';
import { runCommand } from './client-commands.ts';
import { describeFailure, EXIT } from './exit-codes.ts';
import { PROCESS_INPUT } from './input-source.ts';
import type { Terminal } from './terminal.ts';

export const DEFAULT_URL = 'http://127.0.0.1:3000';

export async function runClientCommand(command: ClientCommand, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const terminal = processTerminal(env);
  const line = parseClientArgs(command, args);
  if (line.kind === 'help') {
    terminal.out(`${CLIENT_USAGE}\n`);
    return EXIT.ok;
  }
  if (line.kind === 'usage-error') {
    terminal.err(`berth: ${line.problem} (berth ${command} --help lists the options)\n`);
    return EXIT.usage;
  }
  const baseUrl = line.invocation.url ?? nonEmpty(env['BERTH_URL']) ?? DEFAULT_URL;
  if (!URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol)) {
    terminal.err(`berth: ${line.invocation.url === undefined ? 'BERTH_URL' : '--url'} must be an http:// or https:// URL (got '${baseUrl}')\n`);
    return EXIT.usage;
  }
  const client = createClient({ baseUrl, apiKey: nonEmpty(env['BERTH_API_KEY']) });
  // Ctrl-C while a spinner draws: leave a clean line behind.
  process.once('SIGINT', () => {
    if (terminal.errIsTTY) terminal.err('\r\x1b[2K');
    process.exit(130);
  });
  try {
    return await runCommand({ client, terminal, inputs: PROCESS_INPUT }, line.invocation);
  } catch (error) {
    const failure = describeFailure(error, baseUrl);
    terminal.err(failure.lines.map((text, i) => (i === 0 ? `berth: ${text}\n` : `${text}\n`)).join(''));
    return failure.exitCode;
  }
}

function processTerminal(env: NodeJS.ProcessEnv): Terminal {
  // `berth tasks | head -1` closes the pipe early: that is the reader's choice, not a failure. Any
  // other write error on stdout is said on stderr; one on stderr has nowhere left to be said.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') process.stderr.write(`berth: cannot write the output (${error.code ?? error.message})\n`);
    process.exit(error.code === 'EPIPE' ? EXIT.ok : EXIT.software);
  });
  process.stderr.on('error', () => undefined);
  const outIsTTY = process.stdout.isTTY === true;
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    outIsTTY,
    errIsTTY: process.stderr.isTTY === true,
    color: outIsTTY && env['NO_COLOR'] === undefined && env['TERM'] !== 'dumb',
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
