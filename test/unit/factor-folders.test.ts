/**
 * A factor is one folder (issue 18, item 3): outside src/factors/<folder>/ nothing in src/ or
 * views/ names a factor's id or a table only that factor uses — but its registration line in
 * src/factors/index.ts (and the migrations, which are not scanned). Everything else reaches a
 * factor through the registry and a capability.
 *
 * A factor's id is matched as a word (as `grep -w` does). An id that is also an ordinary word of
 * kapu (`email`: the account's address, the OIDC scope and claim) is matched only where it names
 * the factor: its locale keys, its templates, a comparison with it, a call that asks for it.
 * A factor's own tables are those its migrations make with its id as their prefix (`dap_device`).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FACTORS } from '../../src/factors/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where a factor is registered: the one place outside its folder that names it. */
const REGISTRATION = 'src/factors/index.ts';
/** Ids that are also words kapu uses for other things, and what those things are. */
const SHARED_WORDS: Record<string, string> = { email: "the account's address, the OIDC scope and claim, the address change" };
const TEXT = /\.(ts|eta|js|css|json|html|webmanifest|svg)$/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : TEXT.test(name) ? [path] : [];
  });
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The ways a line can name factor `id`. */
function namings(id: string): RegExp[] {
  const word = escape(id);
  if (!(id in SHARED_WORDS)) return [new RegExp(`\\b${word}\\b`)];
  const quoted = `['"\`]${word}['"\`]`;
  return [
    new RegExp(`\\b(?:factor|method|step|setup|event\\.method)\\.${word}\\b`),
    new RegExp(`@${word}/`),
    new RegExp(`\\b(?:factors|enroll|change)/${word}\\b`),
    new RegExp(`(?:===|!==|includes\\()\\s*${quoted}`),
    new RegExp(`${quoted}\\s*(?:===|!==)`),
    new RegExp(`\\b(?:get|with|pick|addFactor|removeFactor)\\([^)]*${quoted}`),
  ];
}

/** The tables factor `id` made in its migrations (named with its id as prefix). */
function tablesOf(id: string): string[] {
  const dir = join(ROOT, 'migrations');
  const made = readdirSync(dir).flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/createTable\('([a-z_]+)'\)/g)].map((m) => m[1]!));
  return made.filter((table) => table.startsWith(`${id}_`));
}

/** Every line outside `folder` (and the registration file) that matches one of `patterns`. */
function outside(folder: string, patterns: RegExp[]): string[] {
  const found: string[] = [];
  for (const file of [...files(join(ROOT, 'src')), ...files(join(ROOT, 'views'))]) {
    const path = relative(ROOT, file);
    if (path.startsWith(folder) || path === REGISTRATION) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (patterns.some((p) => p.test(line))) found.push(`${path}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
  }
  return found;
}

describe('a factor is one folder', () => {
  const factors = FACTORS.map((m) => ({ id: m.id, folder: `${relative(ROOT, fileURLToPath(m.folder))}/` }));

  test('kapu registers its factors, each in a folder of its own under src/factors', () => {
    expect(factors.map((f) => f.id).sort()).toEqual(['dap', 'email', 'passkey', 'totp']);
    for (const f of factors) expect(f.folder).toMatch(/^src\/factors\/[a-z-]+\/$/);
    const registration = readFileSync(join(ROOT, REGISTRATION), 'utf8');
    for (const f of factors) expect(registration).toContain(`./${f.folder.slice('src/factors/'.length)}index.ts`);
  });

  test.each(FACTORS.map((m) => m.id))('nothing outside its folder names %s, but its registration line', (id) => {
    const { folder } = factors.find((f) => f.id === id)!;
    expect(outside(folder, namings(id))).toEqual([]);
  });

  test.each(FACTORS.map((m) => m.id))('nothing outside its folder names a table only %s uses', (id) => {
    const { folder } = factors.find((f) => f.id === id)!;
    const tables = tablesOf(id);
    expect(outside(folder, tables.map((t) => new RegExp(`\\b${t}\\b`)))).toEqual([]);
  });

  test('the check sees what it looks for: a factor asked for by name, its keys, its templates, its tables', () => {
    const names = (id: string, line: string) => namings(id).some((p) => p.test(line));
    expect(names('totp', "const app = deps.factors.get('totp');")).toBe(true);
    expect(names('dap', 'views/enroll/dap.eta')).toBe(true);
    expect(names('email', "account.factorKinds.includes('email')")).toBe(true);
    expect(names('email', "it.t('setup.email')")).toBe(true);
    expect(names('email', "include('@email/sign-in')")).toBe(true);
    // The account's address is no factor.
    expect(names('email', "const columns = ['id', 'username', 'email'];")).toBe(false);
    expect(names('email', 'email_verified: true, scope: "openid email"')).toBe(false);
    expect(tablesOf('dap')).toEqual(expect.arrayContaining(['dap_device', 'dap_challenge']));
  });
});
