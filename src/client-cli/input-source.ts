/**
 * Where `submit` and `run` take their input from: --input JSON, --input @FILE, --input - (stdin),
 * or, with no --input, stdin when it is a pipe or a file (never a terminal, which would sit waiting
 * for typing); else null.
 */
import { fstatSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { ClientCliError, EXIT } from './exit-codes.ts';

export interface InputSources {
  readStdin(): Promise<string>;
  /** Whether stdin is a pipe (a FIFO, or the socket Node's child processes get) or a regular file; a terminal or /dev/null is not. */
  stdinHasData(): boolean;
  readFile(path: string): Promise<string>;
}

export const PROCESS_INPUT: InputSources = {
  readStdin: () => text(process.stdin),
  stdinHasData() {
    const stat = fstatSync(0, { throwIfNoEntry: false });
    return stat !== undefined && (stat.isFIFO() || stat.isFile() || stat.isSocket());
  },
  readFile: (path) => readFile(path, 'utf8'),
};

export async function readInput(spec: string | undefined, sources: InputSources): Promise<unknown> {
  if (spec === undefined && !sources.stdinHasData()) return null;
  if (spec === undefined || spec === '-') {
    const stdin = await sources.readStdin();
    // An empty pipe (`true | berth submit x`) is no input, as no --input is.
    return stdin.trim() === '' ? null : parse(stdin, 'stdin');
  }
  if (spec.startsWith('@')) {
    const path = spec.slice(1);
    const contents = await sources.readFile(path).catch((error: unknown) => {
      throw new ClientCliError(EXIT.noInput, `--input @${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    });
    return parse(contents, `--input @${path}`);
  }
  return parse(spec, '--input');
}

function parse(json: string, from: string): unknown {
  try {
    return JSON.parse(json);
  } catch (error) {
    throw new ClientCliError(EXIT.usage, `${from} is not valid JSON (${(error as Error).message})`);
  }
}
