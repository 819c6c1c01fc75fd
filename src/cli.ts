#!/usr/bin/env node
/**
 * The `berth` command, the only entry point. Reads the command line and loads only what the
 * command needs: the server's modules for serve, worker, start, migrate, config check and key new
 * (server-cli/), the SDK for the client commands (client-cli/), so `berth status` starts fast.
 * (the command line itself: cli-args.ts, and client-cli/client-args.ts for the client commands)
 */
import { readFile } from 'node:fs/promises';
import { parseCommandLine, USAGE } from './cli-args.ts';
import { CLIENT_USAGE, isClientCommand } from './client-cli/client-args.ts';
import { ConfigError } from './config-error.ts';
import { StartupError } from './startup-error.ts';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (isClientCommand(argv[0])) {
    const { runClientCommand } = await import('./client-cli/client-main.ts');
    return runClientCommand(argv[0], argv.slice(1), process.env);
  }
  const line = parseCommandLine(argv);
  switch (line.kind) {
    case 'help':
      process.stdout.write(`${USAGE}\n\n${CLIENT_USAGE}\n`);
      return 0;
    case 'version':
      process.stdout.write(`${await packageVersion()}\n`);
      return 0;
    case 'usage-error':
      // 64 (EX_USAGE), as the client commands: 1 to 3 tell how a waited-for task ended.
      process.stderr.write(`berth: ${line.problem}\n${USAGE}\n`);
      return 64;
    case 'run': {
      if (line.command === 'healthcheck') return (await import('./server-cli/healthcheck.ts')).healthcheck(process.env);
      const { runServerCommand } = await import('./server-cli/server-commands.ts');
      return runServerCommand(line.command, line.runnersFile);
    }
  }
}

/** From package.json, one folder up both from src/ and from the built dist/. */
async function packageVersion(): Promise<string> {
  const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

main().then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    if (error instanceof ConfigError || (error instanceof Error && error.name === 'EnvConfigError')) {
      process.stderr.write(`${error.message}\n`);
    } else if (error instanceof StartupError) {
      process.stderr.write(`berth: ${error.message}\n`);
    } else {
      process.stderr.write(`berth: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    process.exitCode = 1;
  },
);
