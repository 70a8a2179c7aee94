/**
 * The embedded database belongs to one process: a CLI command run while kapu runs on the same
 * DATA_DIR is refused, naming the fix, and writes nothing (before, it wrote to a copy the server
 * never saw, and a client secret "shown only once" was silently lost at the server's stop).
 * Real processes, always on PGlite (that is what this is about). So it runs in the embedded
 * database's pass only: with DATABASE_URL set it would run the very same processes again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { json, spawnCli, startServerProcess } from '../helpers/cli-process.ts';
import { jest } from '@jest/globals';
import { migratedDataDir } from '../helpers/database.ts';

// Real server and CLI processes: minutes when the machine is busy.
jest.setTimeout(300_000);

const embeddedPass = process.env['DATABASE_URL'] ? describe.skip : describe;

embeddedPass('the embedded database belongs to one process', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kapu-lock-'));
    await migratedDataDir(dataDir);
  });
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('while kapu runs on the embedded database, the CLI refuses and says how to do it; once kapu stops, it works', async () => {
    const env = { NODE_ENV: 'test', DATA_DIR: dataDir };
    const server = await startServerProcess(env);
    let refused;
    try {
      refused = await spawnCli(['client', 'add', '--id', 'ugyintezes', '--redirect-uri', 'https://rp.example.hu/cb'], env);
      // The server keeps serving.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.stop();
    }
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe(''); // no secret was shown for a client that would be lost
    expect(refused.stderr).toMatch(/^kapu: the embedded database in DATA_DIR .* is in use by another kapu process \(pid \d+\)/);
    expect(refused.stderr).toMatch(/stop the kapu server first/);
    expect(refused.stderr).toMatch(/DATABASE_URL/);

    const machine = await spawnCli(['client', 'list', '--json'], env);
    expect(json(machine)).toEqual([]); // nothing was half-written anywhere

    const added = await spawnCli(['client', 'add', '--id', 'ugyintezes', '--redirect-uri', 'https://rp.example.hu/cb', '--json'], env);
    expect(added.code).toBe(0);
    expect(json(added)).toMatchObject({ clientId: 'ugyintezes', clientSecret: expect.any(String) });

    // A lock left by a process that died (kill -9) is taken over.
    const crashed = await startServerProcess(env);
    crashed.child.kill('SIGKILL');
    await crashed.stop();
    const after = await spawnCli(['client', 'list', '--json'], env);
    expect(json<Array<{ clientId: string }>>(after).map((c) => c.clientId)).toEqual(['ugyintezes']);
  });

  test('JSON mode: the refusal is one JSON error on stderr', async () => {
    const env = { NODE_ENV: 'test', DATA_DIR: dataDir };
    const server = await startServerProcess(env);
    try {
      const run = await spawnCli(['account', 'list', '--json'], env);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(JSON.parse(run.stderr)).toEqual({ error: { code: 'data_dir_in_use', message: expect.stringMatching(/stop the kapu server/) } });
    } finally {
      await server.stop();
    }
  });
});
