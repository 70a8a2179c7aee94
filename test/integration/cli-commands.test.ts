/**
 * Every admin command as an operator runs it, in-process through `runCli` (the process wiring
 * itself, argv, stdin, exit codes, is shown in test/e2e/cli-process.test.ts) against a database of
 * its own (PGlite, or a fresh database on DATABASE_URL's server), left unmigrated so that
 * `migrate` has work to do: in JSON mode as scripts use it and in text mode where people read
 * it; and bad input (unknown flags, malformed CSV, duplicate usernames, bad URIs, invisible
 * characters) with a clear message, its exit code, and nothing half-written.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import argon2 from 'argon2';
import { type Run, json, spawnProcess } from '../helpers/cli-process.ts';
import { freshDatabase, migratedDataDir } from '../helpers/database.ts';
import { type InProcessCli, inProcessCli } from '../helpers/cli.ts';
import { testEnv } from '../helpers/env.ts';

const PASSWORD = 'Titkos jelszó 42';

let env: Record<string, string>;
let dir: string;
let cli: InProcessCli['run'];
let inspect: InProcessCli['inspect'];
let close: () => Promise<void>;

beforeAll(async () => {
  ({ env, dir, run: cli, inspect, close } = await inProcessCli());
});
afterAll(async () => {
  await close();
});

/** An error in JSON mode: one document on stderr, nothing on stdout. */
function jsonError(run: Run, exit: number): { code: string; message: string } {
  expect({ exit: run.code, stdout: run.stdout }).toEqual({ exit, stdout: '' });
  return (JSON.parse(run.stderr) as { error: { code: string; message: string } }).error;
}


type Account = { id: string; username: string; factors: string[]; disabled: boolean };
const accounts = async (...filters: string[]) => json<Account[]>(await cli(['account', 'list', ...filters, '--json']));

describe('migrate and accounts', () => {
  test('migrate reports what it applied, then nothing', async () => {
    const first = json<{ applied: string[] }>(await cli(['migrate', '--json']));
    expect(first.applied).toContain('2026-12-04T1000_operators_toolkit');
    expect(json(await cli(['migrate', '--json']))).toEqual({ applied: [] });
  });

  test('account add prints the new account as JSON; a taken username and bad input fail and store nothing', async () => {
    const added = await cli(['account', 'add', '--username', 'kovacs.anna', '--name', 'Kovács Anna', '--email', 'anna@example.hu', '--json'], `${PASSWORD}\n`);
    expect(json(added)).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), username: 'kovacs.anna' });

    const taken = await cli(['account', 'add', '--username', 'KOVACS.ANNA', '--name', 'Másik', '--email', 'm@example.hu', '--json'], `${PASSWORD}\n`);
    expect(jsonError(taken, 1)).toEqual({ code: 'failed', message: 'username "KOVACS.ANNA" is taken' });

    // A right-to-left override would show "Kovács Anna" for a name that reads otherwise.
    const bidi = await cli(['account', 'add', '--username', 'ál.anna', '--name', 'Kovács \u202eannA', '--email', 'a@example.hu'], `${PASSWORD}\n`);
    expect(bidi.code).toBe(2);
    expect(bidi.stderr).toMatch(/^kapu: account add: name must not contain .*invisible formatting characters/);
    const zeroWidth = await cli(['account', 'add', '--username', 'al.anna', '--name', 'Kovács\u200b Anna', '--email', 'a@example.hu', '--json'], `${PASSWORD}\n`);
    expect(jsonError(zeroWidth, 2).code).toBe('usage');

    const unknownFlag = await cli(['account', 'add', '--username', 'x.y.z', '--name', 'X', '--email', 'x@example.hu', '--admin', '--json'], `${PASSWORD}\n`);
    expect(jsonError(unknownFlag, 2)).toEqual({ code: 'usage', message: "account add: Unknown option '--admin'" });

    expect((await accounts()).map((a) => a.username)).toEqual(['kovacs.anna']);
  });

  test('account import: good rows go in, bad rows are reported by line, re-running adds nothing twice', async () => {
    const hash = await argon2.hash('Importált jelszó 1', { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 });
    const csv = [
      'username,name,email,password_hash',
      `nagy.bela,Nagy Béla,bela@example.hu,"${hash}"`, // a PHC hash has commas: quoted
      'szabo.eva,"Szabó, Éva",eva@example.hu,',
      'kovacs.anna,Kovács Anna,anna@example.hu,', // already there: skipped, unchanged
      'toth.jani,Tóth János,nem-email,', // line 5
      'szabo.eva,Szabó Éva 2,eva2@example.hu,', // line 6: twice in the file
      'kiss.ilona,Kiss Ilona', // line 7: too few fields
      'varga.pal,Varga Pál,pal@example.hu,nem-hash', // line 8
      'horvath.kata,Horváth Kata,kata@example.hu,',
    ].join('\n');
    const file = join(dir, 'accounts.csv');
    writeFileSync(file, `${csv}\n`);

    const first = await cli(['account', 'import', file, '--json']);
    expect(first.code).toBe(1); // some rows were rejected: a script must notice
    const report = json<{ rows: number; imported: number; existing: number; rejected: Array<{ line: number; username: string; reason: string }> }>(first);
    expect(report).toMatchObject({ rows: 8, imported: 3, existing: 1 });
    expect(report.rejected.map((r) => [r.line, r.username])).toEqual([
      [5, 'toth.jani'],
      [6, 'szabo.eva'],
      [7, 'kiss.ilona'],
      [8, 'varga.pal'],
    ]);
    expect(report.rejected[0]!.reason).toMatch(/email/);
    expect(report.rejected[1]!.reason).toMatch(/earlier in the file/);
    expect(report.rejected[2]!.reason).toMatch(/expected 4 fields/);
    expect(report.rejected[3]!.reason).toMatch(/argon2id/);

    // Text mode, second run: nothing new, the same rejections, a count line.
    const again = await cli(['account', 'import', file]);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/^line 5: rejected \(toth\.jani\): email/m);
    expect(again.stdout).toMatch(/^8 row\(s\): 0 imported, 4 already there, 4 rejected$/m);

    expect((await accounts()).map((a) => a.username)).toEqual(['horvath.kata', 'kovacs.anna', 'nagy.bela', 'szabo.eva']);
    const stored = await inspect(async (deps) => {
      const row = (u: string) => deps.db.selectFrom('account').select(['name', 'password_hash']).where('username', '=', u).executeTakeFirstOrThrow();
      const kata = await row('horvath.kata');
      return {
        bela: (await row('nagy.bela')).password_hash,
        eva: (await row('szabo.eva')).name,
        kataHash: kata.password_hash,
        kataGuess: await deps.passwords.verify(kata.password_hash, ''),
        anna: await deps.passwords.verify((await row('kovacs.anna')).password_hash, PASSWORD),
      };
    });
    expect(stored.bela).toBe(hash); // the exported hash, so the old password works
    expect(stored.eva).toBe('Szabó, Éva');
    expect(stored.kataHash).toMatch(/^\$argon2id\$/); // no password: a hash of one nobody knows
    expect(stored.kataGuess.ok).toBe(false);
    expect(stored.anna.ok).toBe(true); // the existing account was not touched
  });

  // Twenty thousand rows, half of them through a real process: minutes on a busy machine.
  test('a big import reports progress: a count line without a terminal, a progress bar on one', async () => {
    const rows = Array.from({ length: 10_050 }, (_, i) => `tomeg.${i},Tömeg ${i},tomeg.${i}@example.hu`);
    const csv = `username,name,email\n${rows.join('\n')}\n`;
    const piped = await cli(['account', 'import', '-'], csv);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('10000 rows read: 10000 imported, 0 already there, 0 rejected\n');
    expect(piped.stdout).toBe('10050 row(s): 10050 imported, 0 already there, 0 rejected\n');

    // On a terminal (script(1) gives the command one): cli-progress draws its bar on stderr. A
    // real process, so on a database of its own (it cannot see this file's in-memory one).
    const file = join(dir, 'tomeg.csv');
    writeFileSync(file, csv);
    const own = await freshDatabase();
    try {
      const ownEnv: Record<string, string> = own.url ? { ...env, DATABASE_URL: own.url } : { ...env, DATA_DIR: join(dir, 'tty-data') };
      if (!own.url) await migratedDataDir(ownEnv.DATA_DIR!);
      const command = ['node', 'src/cli/main.ts', 'account', 'import', file].map((a) => `'${a}'`).join(' ');
      const tty = await spawnProcess('script', ['-qec', command, '/dev/null'], testEnv(ownEnv));
      expect(tty.code).toBe(0);
      expect(tty.stdout).toMatch(/\u2588+.* 100% \| 10050 rows \| 10050 new, 0 existing, 0 rejected/);
      expect(tty.stdout).toMatch(/10050 row\(s\): 10050 imported, 0 already there, 0 rejected/);
    } finally {
      await own.drop();
    }
  }, 300_000);

  test.each([
    ['an unclosed quote', 'username,name,email\nuj.egy,Új Egy,egy@example.hu\nuj.ketto,"Új Kettő,ketto@example.hu\n', /not valid CSV/],
    ['an unknown column', 'username,name,email,role\nuj.egy,Új Egy,egy@example.hu,admin\n', /unknown column "role"/],
    ['a missing column', 'username,email\nuj.egy,egy@example.hu\n', /missing: name/],
    ['an empty file', '', /file is empty/],
  ])('a malformed CSV (%s) fails with exit 1 and imports nothing', async (_what, csv, message) => {
    const run = await cli(['account', 'import', '-', '--json'], csv);
    expect(jsonError(run, 1).message).toMatch(message);
    expect(await accounts('--search', 'uj.')).toEqual([]);
  });

  test('account list filters and pages; show tells the state, never a secret', async () => {
    expect((await accounts('--search', 'SZAB')).map((a) => a.username)).toEqual(['szabo.eva']);
    const page1 = await accounts('--limit', '2');
    const page2 = await accounts('--limit', '2', '--after', page1.at(-1)!.username);
    expect([...page1, ...page2].map((a) => a.username)).toEqual(['horvath.kata', 'kovacs.anna', 'nagy.bela', 'szabo.eva']);
    const text = await cli(['account', 'list', '--limit', '2']);
    expect(text.stderr).toBe('more may follow: --after kovacs.anna\n');

    const shown = await cli(['account', 'show', 'kovacs.anna', '--json']);
    expect(json(shown)).toMatchObject({ username: 'kovacs.anna', email: 'anna@example.hu', disabled: false, factors: [] });
    expect(shown.stdout).not.toMatch(/argon2|password/);
    expect(jsonError(await cli(['account', 'show', 'senki', '--json']), 1).message).toBe('no account "senki"');
  });

  test('factors: add the emailed code and the app, list them, remove one', async () => {
    expect(json(await cli(['account', 'add-factor', 'kovacs.anna', 'email', '--json']))).toEqual({ username: 'kovacs.anna', factor: 'email', added: true });
    const totp = json<{ otpauthUri: string }>(await cli(['account', 'add-factor', 'kovacs.anna', 'totp', '--json']));
    expect(totp.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    const listed = json<Array<{ kind: string }>>(await cli(['account', 'factors', 'kovacs.anna', '--json']));
    expect(listed.map((f) => f.kind).sort()).toEqual(['email', 'totp']);
    expect((await accounts('--factor', 'none')).map((a) => a.username)).not.toContain('kovacs.anna');

    expect(json(await cli(['account', 'remove-factor', 'kovacs.anna', 'totp', '--json']))).toEqual({ username: 'kovacs.anna', removedFactor: 'totp' });
    expect(jsonError(await cli(['account', 'remove-factor', 'kovacs.anna', 'totp', '--json']), 1).message).toBe('kovacs.anna has no factor "totp"');
    expect(jsonError(await cli(['account', 'remove-factor', 'kovacs.anna', 'sms', '--json']), 2).message).toMatch(/unknown factor "sms"/);
    expect((await accounts('--factor', 'email')).map((a) => a.username)).toEqual(['kovacs.anna']);
  });

  test('set-password takes the password from stdin only, and ends the sessions', async () => {
    const onArgv = await cli(['account', 'set-password', 'nagy.bela', '--password', 'x-titok-x']);
    expect(onArgv.code).toBe(2);
    expect(onArgv.stderr).not.toContain('x-titok-x');
    const short = await cli(['account', 'set-password', 'nagy.bela', '--json'], 'rovid\n');
    expect(jsonError(short, 2).message).toMatch(/at least 8/);

    expect(json(await cli(['account', 'set-password', 'nagy.bela', '--json'], 'Új jelszó Bélának\n'))).toEqual({ username: 'nagy.bela', passwordSet: true });
    const ok = await inspect(async (deps) => {
      const row = await deps.db.selectFrom('account').select('password_hash').where('username', '=', 'nagy.bela').executeTakeFirstOrThrow();
      return (await deps.passwords.verify(row.password_hash, 'Új jelszó Bélának')).ok;
    });
    expect(ok).toBe(true);
    // The citizen sees it among their own events at the portal ("Jelszó módosítva").
    const events = json<Array<{ detail: Record<string, unknown> }>>(await cli(['audit', 'list', '--account', 'nagy.bela', '--type', 'password.changed', '--json']));
    expect(events.map((e) => e.detail)).toEqual([{ by: 'operator' }]);
  });

  test('disable, enable and unlock; the list shows the state', async () => {
    expect(json(await cli(['account', 'disable', 'szabo.eva', '--json']))).toMatchObject({ username: 'szabo.eva', disabled: true, changed: true });
    expect((await accounts('--disabled')).map((a) => a.username)).toEqual(['szabo.eva']);
    expect((await cli(['account', 'disable', 'szabo.eva'])).stdout).toMatch(/was already disabled/);
    expect(json(await cli(['account', 'enable', 'szabo.eva', '--json']))).toEqual({ username: 'szabo.eva', disabled: false, changed: true });
    expect(await accounts('--disabled')).toEqual([]);
    expect(json(await cli(['account', 'unlock', 'szabo.eva', '--json']))).toEqual({ username: 'szabo.eva', unlocked: true, account: true });
    expect(jsonError(await cli(['account', 'disable', 'senki', '--json']), 1).message).toBe('no account "senki"');
  });

  test('remove needs --yes; it takes the account and keeps its audit trail', async () => {
    const id = (await accounts('--search', 'horvath.kata'))[0]!.id;
    expect(jsonError(await cli(['account', 'remove', 'horvath.kata', '--json']), 2).message).toMatch(/add --yes/);
    expect(json(await cli(['account', 'remove', 'horvath.kata', '--yes', '--json']))).toEqual({ username: 'horvath.kata', removed: true });
    expect(await accounts('--search', 'horvath')).toEqual([]);
    const trail = json<Array<{ type: string }>>(await cli(['audit', 'list', '--account', id, '--json']));
    expect(trail.map((e) => e.type)).toEqual(['account.removed', 'account.imported']);
  });
});

describe('clients', () => {
  let secret: string;

  test('add prints the secret once as JSON; bad URIs, names and flags fail and store nothing', async () => {
    const added = json<{ clientId: string; clientSecret: string }>(
      await cli(['client', 'add', '--id', 'ugyintezes', '--name', 'Ügyintézés', '--redirect-uri', 'https://rp.example.hu/cb', '--json']),
    );
    expect(added).toEqual({ clientId: 'ugyintezes', clientSecret: expect.stringMatching(/^[\w-]{43}$/) });
    secret = added.clientSecret;

    const bad: Array<[string[], number, RegExp]> = [
      [['--redirect-uri', 'nem-url'], 2, /must be an absolute URL/],
      [['--redirect-uri', 'https://rp.example.hu/cb#frag'], 1, /invalid client/],
      [['--redirect-uri', 'https://rp.example.hu/cb', '--name', 'Ügy\u2066intézés'], 2, /invisible formatting characters/],
      [['--redirect-uri', 'https://rp.example.hu/cb', '--access-token-ttl', '999999'], 2, /--access-token-ttl must be a whole number from 60 to 3600/],
      [['--redirect-uri', 'https://rp.example.hu/cb', '--frobnicate'], 2, /Unknown option '--frobnicate'/],
    ];
    for (const [args, exit, message] of bad) {
      expect(jsonError(await cli(['client', 'add', '--id', 'rossz-rp', ...args, '--json']), exit).message).toMatch(message);
    }
    expect(json<Array<{ clientId: string }>>(await cli(['client', 'list', '--json'])).map((c) => c.clientId)).toEqual(['ugyintezes']);
  });

  test('in production, http:// redirect URIs are refused (loopback excepted)', async () => {
    if (!env['DATABASE_URL']) {
      // Production refuses the embedded database altogether, before anything is opened.
      const run = await cli(['client', 'list', '--json'], '', { NODE_ENV: 'production' });
      expect(jsonError(run, 2).message).toMatch(/DATABASE_URL/);
      return;
    }
    const production = {
      NODE_ENV: 'production',
      ISSUER: 'https://login.example.hu',
      SMTP_URL: 'smtp://127.0.0.1:2525',
      TRUST_PROXY: 'true',
      DEMO: 'false',
    };
    const http = await cli(['client', 'add', '--id', 'http-rp', '--redirect-uri', 'http://rp.example.hu/cb', '--json'], '', production);
    expect(jsonError(http, 1).message).toMatch(/http:\/\/ URIs are refused in production/);
    const loopback = await cli(['client', 'add', '--id', 'native-rp', '--redirect-uri', 'http://127.0.0.1:8080/cb', '--json'], '', production);
    expect(json(loopback)).toMatchObject({ clientId: 'native-rp' });
    const update = await cli(['client', 'update', 'native-rp', '--redirect-uri', 'http://rp.example.hu/cb', '--json'], '', production);
    expect(jsonError(update, 1).message).toMatch(/refused in production/);
    expect(json(await cli(['client', 'remove', 'native-rp', '--json']))).toEqual({ clientId: 'native-rp', removed: true });
  });

  test('update changes what is given, within bounds; show tells it all but the secret', async () => {
    const updated = await cli([
      'client', 'update', 'ugyintezes', '--name', 'Ügyintézés 2', '--redirect-uri', 'https://rp.example.hu/cb2',
      '--logo-uri', 'https://rp.example.hu/logo.png', '--client-uri', 'https://rp.example.hu/', '--min-acr', 'substantial',
      '--consent-required', '--backchannel-logout-uri', 'https://rp.example.hu/bcl', '--access-token-ttl', '300', '--json',
    ]);
    expect(json<{ changed: string[] }>(updated).changed.sort()).toEqual(
      ['access_token_ttl', 'backchannel_logout_session_required', 'backchannel_logout_uri', 'client_name', 'client_uri', 'consent_required', 'logo_uri', 'min_acr', 'redirect_uris'].sort(),
    );
    const shown = await cli(['client', 'show', 'ugyintezes', '--json']);
    expect(json(shown)).toMatchObject({
      clientId: 'ugyintezes',
      name: 'Ügyintézés 2',
      redirectUris: ['https://rp.example.hu/cb2'],
      logoUri: 'https://rp.example.hu/logo.png',
      minAcr: 'http://eidas.europa.eu/LoA/substantial',
      consentRequired: true,
      backchannelLogoutUri: 'https://rp.example.hu/bcl',
      accessTokenTtl: 300,
    });
    expect(shown.stdout).not.toContain(secret);

    expect(jsonError(await cli(['client', 'update', 'ugyintezes', '--json']), 2).message).toMatch(/nothing to change/);
    expect(jsonError(await cli(['client', 'update', 'ugyintezes', '--refresh-token-ttl', '10', '--json']), 2).message).toMatch(/from 3600/);
    expect(jsonError(await cli(['client', 'update', 'senki-rp', '--name', 'X', '--json']), 1).message).toBe('no client "senki-rp"');
    const reset = await cli(['client', 'update', 'ugyintezes', '--access-token-ttl', 'default', '--min-acr', 'none', '--no-consent-required']);
    expect(reset.stdout).toMatch(/^client ugyintezes updated: /);
    expect(json(await cli(['client', 'show', 'ugyintezes', '--json']))).toMatchObject({ accessTokenTtl: null, minAcr: null, consentRequired: false });
  });

  test('rotate-secret prints the new secret once; the old one is kept for the grace period', async () => {
    const rotated = json<{ clientSecret: string; previousSecretValidUntil: string }>(
      await cli(['client', 'rotate-secret', 'ugyintezes', '--grace-hours', '2', '--json']),
    );
    expect(rotated.clientSecret).not.toBe(secret);
    const hours = (Date.parse(rotated.previousSecretValidUntil) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(1.9);
    expect(hours).toBeLessThanOrEqual(2);
    const accepted = await inspect(async (deps) => ({
      current: (await deps.clients.find('ugyintezes'))?.metadata['client_secret'],
      old: await deps.clients.secretMatchesStored('ugyintezes', secret, new Date()),
      oldLater: await deps.clients.secretMatchesStored('ugyintezes', secret, new Date(Date.now() + 2 * 3_600_000 + 1000)),
    }));
    expect(accepted).toEqual({ current: rotated.clientSecret, old: true, oldLater: false });
    expect(jsonError(await cli(['client', 'rotate-secret', 'ugyintezes', '--grace-hours', 'sok', '--json']), 2).code).toBe('usage');
  });

  test('set-min-acr and remove', async () => {
    expect(json(await cli(['client', 'set-min-acr', 'ugyintezes', 'low', '--json']))).toEqual({ clientId: 'ugyintezes', minAcr: 'http://eidas.europa.eu/LoA/low' });
    expect(json(await cli(['client', 'remove', 'ugyintezes', '--json']))).toEqual({ clientId: 'ugyintezes', removed: true });
    expect(jsonError(await cli(['client', 'remove', 'ugyintezes', '--json']), 1).message).toBe('no client "ugyintezes"');
  });
});

describe('keys and audit', () => {
  test('keys rotate publishes next keys; keys list shows each state; a second rotation waits', async () => {
    const rotated = json<{ rotated: Array<{ kid: string; alg: string; signsFrom: string }> }>(await cli(['keys', 'rotate', '--delay-hours', '48', '--json']));
    expect(rotated.rotated.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    const keys = json<Array<{ kid: string; alg: string; state: string; signs: boolean; published: boolean }>>(await cli(['keys', 'list', '--json']));
    expect(keys.map((k) => [k.alg, k.state]).sort()).toEqual([
      ['ES256', 'current'],
      ['ES256', 'next'],
      ['RS256', 'current'],
      ['RS256', 'next'],
    ]);
    expect(keys.filter((k) => k.signs).every((k) => k.state === 'current')).toBe(true);
    const again = await cli(['keys', 'rotate']);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/a rotation is already pending: RS256 key \S+ signs from/);
    expect(jsonError(await cli(['keys', 'rotate', '--delay-hours', '0', '--json']), 2).message).toMatch(/from 1 to 720/);
    const text = await cli(['keys', 'list']);
    expect(text.stdout).toMatch(/^KID\s+ALG\s+STATE/);
    expect(text.stdout).not.toMatch(/"d"|private/);
  });

  test('keys reencrypt reports as JSON', async () => {
    expect(json(await cli(['keys', 'reencrypt', '--json']))).toMatchObject({ resealed: 0, current: expect.any(Number) });
  });

  test('audit list filters by client, type and time, and exports JSON', async () => {
    const updates = json<Array<{ type: string; clientId: string; detail: Record<string, unknown> }>>(
      await cli(['audit', 'list', '--client', 'ugyintezes', '--type', 'client.updated', '--since', '2020-01-01', '--json']),
    );
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.every((e) => e.type === 'client.updated' && e.clientId === 'ugyintezes')).toBe(true);
    expect(json(await cli(['audit', 'list', '--until', '2020-01-01', '--json']))).toEqual([]);
    const rotated = json<Array<{ type: string }>>(await cli(['audit', 'list', '--type', 'key.rotated', '--json']));
    expect(rotated).toHaveLength(1);
    expect(jsonError(await cli(['audit', 'list', '--since', 'tegnap', '--json']), 2).message).toMatch(/--since must be a date/);
  });

  test('an unknown command in JSON mode is a JSON usage error', async () => {
    expect(jsonError(await cli(['account', 'frobnicate', '--json']), 2)).toEqual({ code: 'usage', message: 'account: unknown subcommand "frobnicate"' });
  });
});
