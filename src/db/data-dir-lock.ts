/**
 * The embedded database (PGlite) is one process's: a second process opening the same DATA_DIR
 * works on its own copy, which the first never sees and overwrites when it stops (a client
 * secret "shown only once" silently gone), or crashes both. So whoever opens DATA_DIR holds
 * `kapu.pid` in it for as long as it runs; another process finds it, checks that its owner is
 * alive, and refuses with what to do instead. A lock left by a process that died is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirInUse extends Error {
  override name = 'DataDirInUse';
  readonly dataDir: string;
  readonly pid: number;
  constructor(dataDir: string, pid: number) {
    super(
      `the embedded database in DATA_DIR (${dataDir}) is in use by another kapu process (pid ${pid}), ` +
        'and only one process may open it: stop the kapu server first and run the command again, ' +
        'or run kapu on Postgres (set DATABASE_URL), where the CLI works beside running servers',
    );
    this.dataDir = dataDir;
    this.pid = pid;
  }
}

const LOCK_FILE = 'kapu.pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes DATA_DIR for this process; returns the release function. Throws DataDirInUse. */
export function lockDataDir(dataDir: string): () => void {
  const file = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(file, 'utf8').trim());
      } catch {
        // Removed meanwhile, or being written: try again.
      }
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) throw new DataDirInUse(dataDir, owner);
      // Stale (its process is gone) or unreadable: take it over.
      rmSync(file, { force: true });
      continue;
    }
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return () => {
      try {
        if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
      } catch {
        // Already gone.
      }
    };
  }
  throw new Error(`cannot take the lock file ${file}`);
}
