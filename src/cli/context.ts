/**
 * What every CLI command gets: its input and output (injected, so tests run commands
 * in-process), the config (loaded on first use), and `withDeps`, which opens kapu's
 * dependencies for the length of one command and always closes them.
 */
import { Writable } from 'node:stream';
import type Provider from 'oidc-provider';
import { type Config, ConfigError, loadConfig } from '../config/index.ts';
import { type Deps, buildDeps, closeDeps } from '../deps.ts';
import { type OpenDatabase, openDatabase } from '../db/database.ts';
import { type Logger, createLogger } from '../log.ts';
import { buildProvider } from '../oidc/provider.ts';
import { parse, printable } from './args.ts';

export interface CliIo {
  /** The process's stdin, or (tests) its whole content as a string. */
  stdin: NodeJS.ReadableStream | string;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: Record<string, string | undefined>;
  /** A terminal to draw progress bars on (stderr, when it is one). */
  progress?: NodeJS.WritableStream;
  /**
   * A database already open, used instead of opening the configured one and left open after
   * the command (tests run many commands on one database; the embedded one takes seconds to open).
   */
  database?: OpenDatabase;
}

export class Cli {
  readonly io: CliIo;
  /** `--json` was given: `result` prints JSON, text lines are dropped. */
  readonly jsonMode: boolean;
  /** A command that finished but must report failure (e.g. rows rejected) sets this. */
  exitCode = 0;
  #config: Config | undefined;

  constructor(io: CliIo, options: { json?: boolean } = {}) {
    this.io = io;
    this.jsonMode = options.json === true;
  }

  /** One line of output for people on stdout (nothing in --json mode). */
  out(line = ''): void {
    if (this.jsonMode) return;
    this.io.stdout(`${line}\n`);
  }

  /** Extra text for people on stderr (progress, notes): never mixed into stdout. */
  note(line: string): void {
    if (this.jsonMode) return;
    this.io.stderr(`${line}\n`);
  }

  json(value: unknown): void {
    this.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A command's result: `value` as JSON with --json, else what `text` prints. */
  result(value: unknown, text: () => void): void {
    if (this.jsonMode) this.json(value);
    else text();
  }

  /** Rows as aligned columns; every cell made safe for a terminal. */
  table(header: string[], rows: string[][]): void {
    if (this.jsonMode) return;
    const cells = [header, ...rows.map((r) => r.map(printable))];
    const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
    for (const row of cells) {
      this.out(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
    }
  }

  get config(): Config {
    this.#config ??= loadConfig(this.io.env);
    return this.#config;
  }

  /**
   * Secrets sealed with a throwaway key could never be read back. Generated development keys
   * are kept in DATA_DIR; with DATA_DIR=memory:// nothing keeps them, so commands that seal or
   * open secrets need ENCRYPTION_KEYS.
   */
  requirePersistentKeys(): void {
    const { config } = this;
    if (config.generatedEncryptionKeys && config.dataDir === 'memory://') {
      throw new ConfigError('ENCRYPTION_KEYS', 'is required for this command with DATA_DIR=memory:// (secrets sealed with a generated key could never be read back)');
    }
  }

  /** The configured database, opened for one command (or the one the caller keeps open). */
  async openDatabase(log: Logger): Promise<OpenDatabase> {
    const shared = this.io.database;
    if (shared) return { ...shared, close: async () => {} };
    return openDatabase(this.config.database, log);
  }

  /** Opens kapu's dependencies (migrating the database), runs `fn`, closes them. */
  async withDeps<T>(fn: (deps: Deps) => Promise<T>): Promise<T> {
    const log = this.#logger();
    const deps = await buildDeps(this.config, { log, database: await this.openDatabase(log) });
    let result: T;
    try {
      result = await fn(deps);
    } catch (err) {
      await closeDeps(deps).catch(() => {});
      throw err;
    }
    await closeDeps(deps);
    return result;
  }

  /** `withDeps` plus the provider, for commands that validate client metadata. */
  async withProvider<T>(fn: (deps: Deps, provider: Provider) => Promise<T>): Promise<T> {
    this.requirePersistentKeys();
    return this.withDeps(async (deps) => fn(deps, await buildProvider(deps)));
  }

  /**
   * Logs go to stderr, so stdout stays the command's output. Only warnings by default (a
   * command's "database migrated" is noise), none with --json; LOG_LEVEL, when set, wins.
   */
  #logger() {
    // With --json, stderr carries only the error document, unless logs are asked for.
    const level = this.io.env['LOG_LEVEL'] ? this.config.logLevel : this.jsonMode ? 'silent' : 'warn';
    const stderr = this.io.stderr;
    return createLogger(
      level,
      new Writable({
        write(chunk: Buffer | string, _encoding, callback) {
          stderr(String(chunk));
          callback();
        },
      }),
    );
  }
}

/** One CLI command: `name` is what is typed ("account add"), `synopsis` its arguments. */
export interface Command {
  name: string;
  synopsis: string;
  summary: string;
  run(cli: Cli, args: string[]): Promise<void>;
}

/** The commands that take just a username and change one thing. */
export function usernameCommand(name: string, summary: string, act: (cli: Cli, username: string) => Promise<void>): Command {
  return {
    name,
    synopsis: 'USERNAME',
    summary,
    async run(cli, args) {
      const { positionals } = parse(this.name, args, {}, ['USERNAME']);
      await act(cli, positionals[0]!);
    },
  };
}

/** ISO time without milliseconds, in UTC. */
export function isoTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
