/**
 * The admin CLI, run in-process through `runCli` against a database of its own (PGlite, or a
 * fresh database on DATABASE_URL's server), opened once for the file and left unmigrated so
 * that `migrate` has work to do. The real process (argv, piped stdin, exit codes) is
 * test/e2e/cli-process.test.ts.
 */
import type { Deps } from '../../src/deps.ts';
import type { Run } from '../helpers/cli-process.ts';
import { type InProcessCli, inProcessCli } from '../helpers/cli.ts';

const PASSWORD = 'Titkos jelszó 42';

let cli: InProcessCli['run'];
let inspect: InProcessCli['inspect'];
let close: () => Promise<void>;

beforeAll(async () => {
  ({ run: cli, inspect, close } = await inProcessCli());
});

afterAll(async () => {
  await close();
});

/** The password hash stored for `username` (what the CLI wrote). */
async function storedHash(deps: Deps, username: string): Promise<string | undefined> {
  const row = await deps.db.selectFrom('account').select('password_hash').where('username', '=', username).executeTakeFirst();
  return row?.password_hash;
}

const usernames = () => inspect(async (deps) => (await deps.repos.accounts.list()).map((a) => a.username));
const clientIds = () => inspect(async (deps) => (await deps.repos.clients.list()).map((c) => c.client_id));

function oneErrorLine(run: Run): void {
  expect(run.stderr).toMatch(/^kapu: [^\n]+\n$/);
}

describe('migrate', () => {
  test('applies the migrations once, then says the database is up to date', async () => {
    const first = await cli(['migrate']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^applied \S+_foundation$/m);
    const second = await cli(['migrate']);
    expect(second).toEqual({ code: 0, stdout: 'database is up to date: no migrations to apply\n', stderr: '' });
  });
});

describe('account add', () => {
  test('with the password on stdin, the account is created and listed; the password is never printed', async () => {
    const add = await cli(['account', 'add', '--username', 'kovacs.anna', '--name', 'Kovács Anna', '--email', 'anna@example.hu'], `${PASSWORD}\n`);
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/^[0-9a-f-]{36}\n$/);

    const list = await cli(['account', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/kovacs\.anna\s+Kovács Anna\s+anna@example\.hu\s+- \(password only\)/);
    expect(list.stdout).toContain(add.stdout.trim());

    const json = await cli(['account', 'list', '--json']);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ username: 'kovacs.anna', email: 'anna@example.hu', factors: [] })]);

    for (const run of [add, list, json]) expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    // The trailing newline of the pipe is not part of the password.
    const check = await inspect(async (deps) => deps.passwords.verify(await storedHash(deps, 'kovacs.anna'), PASSWORD));
    expect(check.ok).toBe(true);
  });

  test('a taken username (in any letter case) fails with exit 1 and stores nothing new', async () => {
    const run = await cli(['account', 'add', '--username', 'Kovacs.Anna', '--name', 'Másik Anna', '--email', 'masik@example.hu'], `${PASSWORD}\n`);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('kapu: username "Kovacs.Anna" is taken\n');
    expect(await usernames()).toEqual(['kovacs.anna']);
  });

  test.each([
    ['a missing --email', ['--username', 'uj.felhasznalo', '--name', 'Új Felhasználó'], PASSWORD, /--email is required/],
    ['an invalid email', ['--username', 'uj.felhasznalo', '--name', 'Új Felhasználó', '--email', 'nem-email'], PASSWORD, /email/],
    ['an oversized name', ['--username', 'uj.felhasznalo', '--name', 'N'.repeat(201), '--email', 'uj@example.hu'], PASSWORD, /at most 200/],
    ['a bad username', ['--username', 'rossz név', '--name', 'Új', '--email', 'uj@example.hu'], PASSWORD, /username may contain/],
    ['an unknown option', ['--username', 'uj.felhasznalo', '--name', 'Új', '--email', 'uj@example.hu', '--admin'], PASSWORD, /Unknown option '--admin'/],
    ['a too short password', ['--username', 'uj.felhasznalo', '--name', 'Új', '--email', 'uj@example.hu'], 'rovid\n', /at least 8/],
    ['an empty stdin', ['--username', 'uj.felhasznalo', '--name', 'Új', '--email', 'uj@example.hu'], '', /at least 8/],
    ['a two-line password', ['--username', 'uj.felhasznalo', '--name', 'Új', '--email', 'uj@example.hu'], `${PASSWORD}\nmasodik sor\n`, /single line/],
  ])('%s is a usage error (exit 2) and stores nothing', async (_what, args, stdin, message) => {
    const run = await cli(['account', 'add', ...args], stdin);
    expect(run.code).toBe(2);
    oneErrorLine(run);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });

  test.each([[['--password', 'hunter2-titok']], [['--password=hunter2-titok']]])(
    'a password on the command line (%j) is refused without echoing it, and nothing is stored',
    async (flag) => {
      const run = await cli(['account', 'add', '--username', 'uj.felhasznalo', '--name', 'Új', '--email', 'uj@example.hu', ...flag]);
      expect(run.code).toBe(2);
      oneErrorLine(run);
      expect(run.stderr).toMatch(/never taken from the command line/);
      expect(run.stdout + run.stderr).not.toContain('hunter2');
    },
  );

  // One look at the database for all the refused commands above (each open costs time).
  test('none of the refused commands stored an account', async () => {
    expect(await usernames()).toEqual(['kovacs.anna']);
  });
});

describe('account factors', () => {
  test('add-factor totp prints the otpauth URI once, says so, and a second one needs --replace', async () => {
    const run = await cli(['account', 'add-factor', 'kovacs.anna', 'totp']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/shown only once/);
    const uri = run.stdout.split('\n').find((l) => l.startsWith('otpauth://totp/'));
    expect(uri).toBeDefined();
    expect(new URL(uri!).searchParams.get('secret')).toMatch(/^[A-Z2-7]{32}$/);

    const again = await cli(['account', 'add-factor', 'kovacs.anna', 'totp']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/--replace/);
    expect(again.stdout).not.toContain('otpauth://');

    const replaced = await cli(['account', 'add-factor', 'kovacs.anna', 'totp', '--replace']);
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toMatch(/^otpauth:\/\/totp\//m);
    expect(replaced.stdout).not.toContain(uri);
  });

  test('add-factor email adds the emailed code; the list shows both factors', async () => {
    const run = await cli(['account', 'add-factor', 'kovacs.anna', 'email']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/anna@example\.hu/);
    const list = await cli(['account', 'list', '--json']);
    expect(JSON.parse(list.stdout)[0].factors.sort()).toEqual(['email', 'totp']);
    // A second time changes nothing.
    const again = await cli(['account', 'add-factor', 'kovacs.anna', 'email']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already has/);
  });

  test('a factor for an unknown account fails with exit 1; a missing username is a usage error', async () => {
    expect((await cli(['account', 'add-factor', 'senki', 'totp'])).code).toBe(1);
    expect((await cli(['account', 'add-factor', 'senki', 'email'])).stderr).toBe('kapu: no account "senki"\n');
    const missing = await cli(['account', 'add-factor']);
    expect(missing.code).toBe(2);
    oneErrorLine(missing);
  });

  test("add-factor takes each factor's own options, lists them in the help, and gives no factor an operator cannot give", async () => {
    const help = await cli(['account', 'add-factor', '--help']);
    expect(help.stdout).toMatch(/totp: an authenticator app/);
    expect(help.stdout).toMatch(/--replace: /);
    expect(help.stdout).toMatch(/email: the emailed code/);
    // The phone app's key is made on the phone: no operator gives it.
    const phone = await cli(['account', 'add-factor', 'kovacs.anna', 'dap']);
    expect(phone.code).toBe(2);
    expect(phone.stderr).toMatch(/unknown factor "dap" \(one of totp, email\)/);
    const foreign = await cli(['account', 'add-factor', 'kovacs.anna', 'email', '--replace']);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toBe('kapu: account add-factor: --replace is no option of email\n');
  });

  test('unlock lifts the sign-in lock of a username', async () => {
    await inspect(async (deps) => {
      for (let i = 0; i < 5; i += 1) await deps.throttle.password(deps.repos.throttle, 'kovacs.anna', '192.0.2.1');
      expect(await deps.throttle.lockedUntil(deps.repos.throttle, ['user:kovacs.anna'])).not.toBeNull();
    });
    const run = await cli(['account', 'unlock', 'kovacs.anna']);
    expect(run.code).toBe(0);
    expect(await inspect((deps) => deps.throttle.lockedUntil(deps.repos.throttle, ['user:kovacs.anna']))).toBeNull();
  });
});

describe('client', () => {
  test('add prints the secret once; list never shows it; it is stored encrypted', async () => {
    const run = await cli([
      'client', 'add', '--id', 'ugyintezes', '--name', 'Ügyintézés',
      '--redirect-uri', 'https://rp.example.hu/callback', '--redirect-uri', 'https://rp.example.hu/cb2',
      '--post-logout-uri', 'https://rp.example.hu/', '--min-acr', 'substantial',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^client_id: +ugyintezes$/m);
    expect(run.stdout).toMatch(/shown only this once: kapu stores it encrypted and cannot show it again/);
    const secret = /^client_secret: +(\S+)$/m.exec(run.stdout)![1]!;
    expect(secret.length).toBeGreaterThanOrEqual(43);
    expect(run.stdout.split(secret)).toHaveLength(2); // printed exactly once

    const list = await cli(['client', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/ugyintezes\s+Ügyintézés\s+client_secret_basic\s+http:\/\/eidas\.europa\.eu\/LoA\/substantial/);
    expect(list.stdout).toContain('https://rp.example.hu/callback https://rp.example.hu/cb2');
    const json = await cli(['client', 'list', '--json']);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ clientId: 'ugyintezes', authMethod: 'client_secret_basic', minAcr: 'http://eidas.europa.eu/LoA/substantial' }),
    ]);
    for (const r of [list, json]) expect(r.stdout + r.stderr).not.toContain(secret);

    const stored = await inspect(async (deps) => {
      const row = await deps.repos.clients.find('ugyintezes');
      return { sealed: row?.secret_sealed ?? '', opened: row?.secret_sealed ? deps.box.openText(row.secret_sealed, 'client:ugyintezes') : null };
    });
    expect(stored.sealed).not.toBe('');
    expect(stored.sealed).not.toContain(secret);
    expect(stored.opened).toBe(secret); // sealed with kapu's key, not lost
  });

  test('private_key_jwt needs keys and gets no secret', async () => {
    const without = await cli(['client', 'add', '--id', 'kulcsos', '--redirect-uri', 'https://rp.example.hu/cb', '--auth-method', 'private_key_jwt']);
    expect(without.code).toBe(2);
    const run = await cli([
      'client', 'add', '--id', 'kulcsos', '--redirect-uri', 'https://rp.example.hu/cb',
      '--auth-method', 'private_key_jwt', '--jwks-uri', 'https://rp.example.hu/jwks',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(/client_secret/);
    expect((await inspect((deps) => deps.repos.clients.find('kulcsos')))?.secret_sealed).toBeNull();
  });

  test.each([
    ['not a URL', 'nem-url', 2],
    ['a URL with a fragment', 'https://rp.example.hu/cb#x', 1],
  ])('an invalid redirect URI (%s) fails and stores nothing', async (_what, uri, code) => {
    const run = await cli(['client', 'add', '--id', 'rossz-rp', '--redirect-uri', uri]);
    expect(run.code).toBe(code);
    oneErrorLine(run);
    expect(run.stdout).toBe('');
    expect(await clientIds()).toEqual(['kulcsos', 'ugyintezes']);
  });

  test('--pkce optional admits a confidential RP without PKCE, show says so; a public client is refused it', async () => {
    const publicClient = await cli(['client', 'add', '--id', 'mobil-rp', '--redirect-uri', 'https://rp.example.hu/cb', '--auth-method', 'none', '--pkce', 'optional']);
    expect(publicClient.code).toBe(2);
    expect(publicClient.stderr).toBe(
      'kapu: client add: --pkce optional: pkce may be optional only for a confidential client (one that authenticates with a secret or a key): a public client always uses PKCE\n',
    );
    expect((await cli(['client', 'add', '--id', 'mobil-rp', '--redirect-uri', 'https://rp.example.hu/cb', '--pkce', 'maybe'])).stderr).toMatch(/--pkce must be required or optional/);
    expect(await clientIds()).not.toContain('mobil-rp');

    expect((await cli(['client', 'add', '--id', 'omniauth-rp', '--redirect-uri', 'https://rp.example.hu/cb', '--pkce', 'optional'])).code).toBe(0);
    const shown = JSON.parse((await cli(['client', 'show', 'omniauth-rp', '--json'])).stdout) as { pkce: string };
    expect(shown.pkce).toBe('optional');
    expect((await cli(['client', 'update', 'omniauth-rp', '--pkce', 'required'])).stdout).toBe('client omniauth-rp updated: pkce\n');
    expect(JSON.parse((await cli(['client', 'show', 'omniauth-rp', '--json'])).stdout)).toMatchObject({ pkce: 'required' });
    expect((await cli(['client', 'remove', 'omniauth-rp'])).code).toBe(0);
  });

  const show = async (id: string) => JSON.parse((await cli(['client', 'show', id, '--json'])).stdout) as Record<string, unknown>;
  const TWO_HOSTS = ['--redirect-uri', 'https://a.example.hu/cb', '--redirect-uri', 'https://b.example.hu/cb'];

  test('--subject-type pairwise on redirect URIs of several hosts needs --sector-identifier-uri, whose host is the sector', async () => {
    const refused = await cli(['client', 'add', '--id', 'ket-host-rp', ...TWO_HOSTS, '--subject-type', 'pairwise']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      'kapu: client add: --subject-type pairwise: the redirect URIs are on 2 hosts (a.example.hu, b.example.hu): give --sector-identifier-uri, whose host becomes the sector\n',
    );
    expect((await cli(['client', 'add', '--id', 'ket-host-rp', ...TWO_HOSTS, '--sector-identifier-uri', 'https://example.hu/s.json'])).stderr).toMatch(
      /--sector-identifier-uri goes with --subject-type pairwise/,
    );
    expect((await cli(['client', 'add', '--id', 'ket-host-rp', ...TWO_HOSTS, '--subject-type', 'secret'])).stderr).toMatch(/--subject-type must be public or pairwise/);

    expect((await cli(['client', 'add', '--id', 'ket-host-rp', ...TWO_HOSTS, '--subject-type', 'pairwise', '--sector-identifier-uri', 'https://example.hu/s.json'])).code).toBe(0);
    expect(await show('ket-host-rp')).toMatchObject({ subjectType: 'pairwise', sector: 'example.hu', sectorIdentifierUri: 'https://example.hu/s.json' });
    expect((await cli(['client', 'remove', 'ket-host-rp'])).code).toBe(0);
  });

  test('a pairwise RP keeps its sector when its redirect URIs move; made public, it is told its citizens get other subs', async () => {
    expect((await cli(['client', 'add', '--id', 'ado-rp', '--redirect-uri', 'https://ado.example.hu/cb', '--subject-type', 'pairwise'])).code).toBe(0);
    expect((await cli(['client', 'update', 'ado-rp', '--redirect-uri', 'https://nav.example.hu/cb'])).stdout).toBe('client ado-rp updated: redirect_uris\n');
    expect(await show('ado-rp')).toMatchObject({ subjectType: 'pairwise', sector: 'ado.example.hu', sectorIdentifierUri: null });
    const toPublic = await cli(['client', 'update', 'ado-rp', '--subject-type', 'public']);
    expect(toPublic.stdout).toMatch(/^client ado-rp updated: subject_type, sector\nFrom now on this service sees another sub for every citizen/);
    expect(await show('ado-rp')).toMatchObject({ subjectType: 'public', sector: null });
    expect((await cli(['client', 'remove', 'ado-rp'])).code).toBe(0);
  });

  test('an existing client id fails with exit 1 and keeps the old client', async () => {
    const run = await cli(['client', 'add', '--id', 'ugyintezes', '--redirect-uri', 'https://other.example.hu/cb']);
    expect(run.code).toBe(1);
    expect(run.stdout).not.toMatch(/client_secret/);
    const row = await inspect((deps) => deps.repos.clients.find('ugyintezes'));
    expect(row?.metadata['redirect_uris']).toEqual(['https://rp.example.hu/callback', 'https://rp.example.hu/cb2']);
  });

  test('set-min-acr accepts low/substantial/none and refuses anything else', async () => {
    const bad = await cli(['client', 'set-min-acr', 'ugyintezes', 'high']);
    expect(bad.code).toBe(2);
    oneErrorLine(bad);
    expect((await cli(['client', 'set-min-acr', 'senki-rp', 'low'])).code).toBe(1);
    const minAcr = async () => (await inspect((deps) => deps.repos.clients.find('ugyintezes')))?.metadata['min_acr'];
    expect((await cli(['client', 'set-min-acr', 'ugyintezes', 'low'])).code).toBe(0);
    expect(await minAcr()).toBe('http://eidas.europa.eu/LoA/low');
    expect((await cli(['client', 'set-min-acr', 'ugyintezes', 'none'])).code).toBe(0);
    expect(await minAcr()).toBeUndefined();
  });

  test('remove of an unknown client fails; remove of a known one removes it', async () => {
    const unknown = await cli(['client', 'remove', 'senki-rp']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('kapu: no client "senki-rp"\n');
    expect((await cli(['client', 'remove', 'kulcsos'])).code).toBe(0);
    expect(await clientIds()).toEqual(['ugyintezes']);
  });
});

describe('audit list', () => {
  test('shows events newest first, filtered by account, type and limit', async () => {
    const all = await cli(['audit', 'list']);
    expect(all.code).toBe(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\S+Z {2}client\.removed {2}- {2}kulcsos {2}- {2}\{\}$/);
    expect(all.stdout).toMatch(/account\.created/);

    const mine = await cli(['audit', 'list', '--account', 'kovacs.anna', '--type', 'factor.enrolled', '--json']);
    const events = JSON.parse(mine.stdout) as Array<{ type: string; detail: Record<string, unknown> }>;
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events.every((e) => e.type === 'factor.enrolled')).toBe(true);
    expect(events.map((e) => e.detail['factor'])).toContain('email');

    const one = await cli(['audit', 'list', '--limit', '1']);
    expect(one.stdout.trim().split('\n')).toHaveLength(1);
  });

  test('an unknown account fails; a bad limit is a usage error', async () => {
    expect((await cli(['audit', 'list', '--account', 'senki'])).code).toBe(1);
    const bad = await cli(['audit', 'list', '--limit', 'sok']);
    expect(bad.code).toBe(2);
    oneErrorLine(bad);
  });
});

describe('usage and configuration', () => {
  test('an unknown command exits 2 with the usage on stderr', async () => {
    const run = await cli(['frobnicate']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^kapu: unknown command "frobnicate"\n/);
    expect(run.stderr).toMatch(/account add --username/);
    expect(run.stdout).toBe('');
  });

  test('help, --help and no arguments print the usage', async () => {
    for (const argv of [[], ['help'], ['--help']]) {
      const run = await cli(argv);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/client set-min-acr/);
    }
  });

  test('a bad setting is named, with exit 2 and no stack trace', async () => {
    const run = await cli(['account', 'list'], '', { ISSUER: 'nem-url' });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^kapu: configuration error: ISSUER: [^\n]+\n$/);
  });
});
