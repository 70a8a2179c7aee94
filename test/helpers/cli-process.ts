/**
 * The admin CLI and the server as an operator runs them: real processes (`node src/cli/main.ts`,
 * `node src/main.ts`), with their own environment, stdin, stdout, stderr and exit code.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function spawnCli(argv: string[], env: Record<string, string>, stdin = ''): Promise<Run> {
  return spawnProcess(process.execPath, ['src/cli/main.ts', ...argv], env, stdin);
}

/** Any program, run in the checkout with only `env` (and PATH, which reaches Node 22). */
export function spawnProcess(program: string, argv: string[], env: Record<string, string>, stdin = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, argv, {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.on('error', () => {}); // a command that exits before reading all of stdin
    child.stdin.end(stdin);
  });
}

/** The JSON document a `--json` run printed. */
export function json<T = unknown>(run: Run): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${run.code}): ${run.stdout}\n${run.stderr}`);
  }
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** Starts `node src/main.ts` on port 0; resolves once it listens. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: ROOT,
    // No drain on SIGTERM unless a test asks for one: stopping waits for nothing.
    env: { PATH: process.env['PATH'] ?? '', PORT: '0', METRICS_PORT: '0', DEMO: 'false', LOG_LEVEL: 'info', SHUTDOWN_GRACE_SECONDS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      for (const line of stdout.split('\n')) {
        if (!line.includes('kapu listening')) continue;
        const entry = JSON.parse(line) as { port: number };
        resolve(`http://127.0.0.1:${entry.port}`);
      }
    });
    child.on('exit', () => reject(new Error(`kapu exited before listening: ${stdout}${stderr}`)));
  });
  return {
    child,
    url,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
