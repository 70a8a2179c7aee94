/**
 * kapu's admin CLI: `npm run cli -- <command>` (= `node src/cli/main.ts <command>`).
 *
 * `runCli` does the work with injected input and output, so tests run commands in-process;
 * the process wiring at the bottom runs only when this file is the program.
 *
 * Exit codes: 0 done; 1 the operation failed (nothing half-written); 2 wrong usage or bad
 * configuration (nothing touched). Expected errors are one line on stderr, `kapu: …`.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { AdminError } from '../admin/accounts.ts';
import { ConfigError } from '../config/index.ts';
import { DataDirInUse } from '../db/data-dir-lock.ts';
import { accountCommands } from './accounts.ts';
import { CliFailure, Interrupted, UsageError, printable, refusePasswordFlag } from './args.ts';
import { auditCommands } from './audit.ts';
import { clientCommands } from './clients.ts';
import { Cli, type CliIo, type Command } from './context.ts';
import { keysCommands } from './keys.ts';
import { migrateCommands } from './migrate.ts';

export type { CliIo } from './context.ts';

export const COMMANDS: Command[] = [...migrateCommands, ...accountCommands, ...clientCommands, ...auditCommands, ...keysCommands];

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

export function usage(commands: Command[] = COMMANDS): string {
  const lines = ['usage: npm run cli -- <command> [options]   (or: node src/cli/main.ts <command>)', '', 'commands:'];
  for (const c of commands) {
    lines.push(`  ${c.name}${c.synopsis ? ` ${c.synopsis}` : ''}`, `      ${c.summary}`);
  }
  if (commands === COMMANDS) lines.push('  help', '      show this text');
  lines.push(
    '',
    'The CLI reads the same environment as the server (DATABASE_URL or DATA_DIR, ENCRYPTION_KEYS, ACR_…).',
    'Every command takes --json: one JSON document on stdout; errors as {"error": {"code", "message"}} on stderr.',
    'Passwords are never taken from the command line. Exit codes: 0 done, 1 failed, 2 wrong usage or configuration.',
  );
  return `${lines.join('\n')}\n`;
}

function wantsHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** The command named by the first one or two words of argv, and the rest. */
function findCommand(argv: string[]): { command: Command; args: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const command = COMMANDS.find((c) => c.name === name);
    if (command && argv.length >= words) return { command, args: argv.slice(words) };
  }
  return undefined;
}

/**
 * `--json` anywhere before `--` asks for machine output: the command prints one JSON document
 * on stdout, and an error is one JSON document on stderr, `{"error": {"code", "message"}}`,
 * with the same exit codes as in text mode.
 */
function takeJsonFlag(argv: string[]): { json: boolean; argv: string[] } {
  const end = argv.indexOf('--');
  const options = end === -1 ? argv : argv.slice(0, end);
  if (!options.includes('--json')) return { json: false, argv };
  return { json: true, argv: [...options.filter((a) => a !== '--json'), ...(end === -1 ? [] : argv.slice(end))] };
}

export async function runCli(rawArgv: string[], io: CliIo): Promise<number> {
  const { json, argv } = takeJsonFlag(rawArgv);
  const fail = (message: string, code = 'failed') =>
    json ? io.stderr(`${JSON.stringify({ error: { code, message } })}\n`) : io.stderr(`kapu: ${message}\n`);
  try {
    if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
      io.stdout(usage());
      return EXIT.ok;
    }
    refusePasswordFlag(argv);
    const found = findCommand(argv);
    if (!found) {
      const group = COMMANDS.filter((c) => c.name.startsWith(`${argv[0]} `));
      fail(
        group.length > 0
          ? `${printable(argv[0]!)}: ${argv[1] === undefined ? 'missing subcommand' : `unknown subcommand "${printable(argv[1])}"`}`
          : `unknown command "${printable(argv[0]!)}"`,
        'usage',
      );
      if (!json) io.stderr(usage(group.length > 0 ? group : COMMANDS));
      return EXIT.usage;
    }
    if (wantsHelp(found.args)) {
      io.stdout(usage([found.command]));
      return EXIT.ok;
    }
    const cli = new Cli(io, { json });
    await found.command.run(cli, found.args);
    return cli.exitCode === 0 ? EXIT.ok : EXIT.failed;
  } catch (err) {
    if (err instanceof UsageError) {
      fail(err.message, 'usage');
      return EXIT.usage;
    }
    if (err instanceof ConfigError) {
      fail(`configuration error: ${err.message}`, 'configuration');
      return EXIT.usage;
    }
    if (err instanceof DataDirInUse) {
      fail(err.message, 'data_dir_in_use');
      return EXIT.failed;
    }
    if (err instanceof AdminError || err instanceof CliFailure) {
      fail(err.message);
      return EXIT.failed;
    }
    if (err instanceof Interrupted) {
      fail(err.message, 'interrupted');
      return EXIT.interrupted;
    }
    // Unexpected (database unreachable, …): the message, and the stack only when asked for.
    fail(err instanceof Error ? err.message : String(err));
    if (err instanceof Error && err.stack && /^(debug|trace)$/.test(io.env['LOG_LEVEL'] ?? '')) io.stderr(`${err.stack}\n`);
    return EXIT.failed;
  }
}

function isProgram(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return pathToFileURL(realpathSync(entry)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isProgram()) {
  // `kapu … | head` closes the pipe early: that is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  runCli(process.argv.slice(2), {
    stdin: process.stdin,
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    env: process.env,
    ...(process.stderr.isTTY && { progress: process.stderr }),
  }).then((code) => {
    // Let stdout drain and the event loop empty on its own; exit() could cut output short.
    process.exitCode = code;
  });
}
