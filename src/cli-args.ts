/**
 * The server commands' command line (client-cli/client-args.ts has the client commands'), read
 * with node:util parseArgs: which command, and its options. Pure;
 * an unknown option, an option without its value or an unknown command is a usage error naming it.
 */
import { parseArgs } from 'node:util';

export const USAGE = `usage: berth <command> [options]   (berth <command> --help: a client command's options)

server commands:
  serve              the HTTP API
  worker             the worker (needs the engine socket)
  start              both in one process, for local use
  migrate            apply database migrations and exit
  config check       validate the runners file and exit (non-zero on any problem)
  key new            print a fresh API key and the sha256 line for the runners file
  healthcheck        exit 0 if this container's worker (BERTH_METRICS_PORT, if set) or API (PORT) answers /healthz

options:
  --config <file>    runners file (default: $BERTH_CONFIG, else ./berth.yaml)
  -h, --help         print this help and exit
  --version          print Berth's version and exit`;

export const COMMANDS = ['serve', 'worker', 'start', 'migrate', 'config check', 'key new', 'healthcheck'] as const;
export type Command = (typeof COMMANDS)[number];

export type CommandLine =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'run'; readonly command: Command; readonly runnersFile: string | undefined }
  | { readonly kind: 'usage-error'; readonly problem: string };

export function parseCommandLine(argv: readonly string[]): CommandLine {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (error) {
    // Node's messages name the option ("Unknown option '--frob'", "Option '--config <value>'
    // argument missing"); the advice after the first sentence is about positionals, not Berth.
    return { kind: 'usage-error', problem: firstSentence(error instanceof Error ? error.message : String(error)) };
  }
  const { values, positionals } = parsed;
  if (values.help === true || (positionals.length === 1 && positionals[0] === 'help')) return { kind: 'help' };
  if (values.version === true) return { kind: 'version' };
  const command = positionals.join(' ');
  if (command === '') return { kind: 'usage-error', problem: 'no command given' };
  if (!(COMMANDS as readonly string[]).includes(command)) return { kind: 'usage-error', problem: `unknown command '${command}'` };
  return { kind: 'run', command: command as Command, runnersFile: values.config };
}

function firstSentence(message: string): string {
  const end = message.indexOf('. ');
  const sentence = end === -1 ? message : message.slice(0, end);
  return sentence.charAt(0).toLowerCase() + sentence.slice(1);
}
