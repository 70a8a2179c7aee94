/**
 * The layers of src/ (HTTP routes → the core → repositories → the database), read
 * from the code's own imports, so that a shortcut fails here rather than in a review:
 * - no two files import each other, directly or round a longer circle;
 * - the sign-in core (src/auth) knows nothing of HTTP;
 * - a route never reaches past the core into the database;
 * - the database layer imports nothing from the layers above it;
 * - src/http, the plumbing every route uses (pages, cookies, bodies, errors), imports no feature;
 * - the provider (src/oidc) imports nothing from the operator's tools (src/admin, src/cli);
 * - one module writes into the provider's stored Interaction (src/oidc/interaction-store.ts).
 * Type-only imports count: a type that only a higher layer defines is a knot all the same.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** What a file imports: other files of the repository by path (`src/db/database.ts`), packages by name (`kysely`). */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true);
  return importedFiles.map(({ fileName }) => {
    if (fileName.startsWith('.')) return relative(ROOT, resolve(ROOT, dirname(file), fileName));
    const [first, second] = fileName.replace(/^node:/, '').split('/');
    return first!.startsWith('@') ? `${first}/${second}` : first!;
  });
}

const FILES = sourceFiles('src');
const GRAPH = new Map(FILES.map((file) => [file, importsOf(file)]));

const under = (...folders: string[]) => (path: string) => folders.some((f) => path.startsWith(`src/${f}/`));

/** Each import of a file in `from` that `forbidden` refuses, as "importer -> imported". */
function breaches(from: (file: string) => boolean, forbidden: (imported: string) => boolean): string[] {
  return FILES.filter(from).flatMap((file) => [...new Set(GRAPH.get(file)!.filter(forbidden))].map((imported) => `${file} -> ${imported}`));
}

/** The import circles among src/'s files (strongly connected components of more than one file, or a file importing itself). */
function circles(): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const next of GRAPH.get(file)!.filter((i) => GRAPH.has(i))) {
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file)!, index.get(next)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || GRAPH.get(file)!.includes(file)) found.push(component.sort());
  };
  for (const file of FILES) if (!index.has(file)) visit(file);
  return found;
}

/** Kapu's HTTP adapters: the folders of routes, and any file that declares routes (a factor's own, as the DÁP device API). */
const isRoute = (file: string) => under('interactions', 'account')(file) || /(^|[/-])routes\.ts$/.test(file) || GRAPH.get(file)!.includes('@koa/router');

const HTTP = (imported: string) =>
  ['koa', '@koa/router', 'koa-compose', 'http', 'https', 'http2'].includes(imported) || under('http', 'interactions', 'account')(imported) || (GRAPH.has(imported) && isRoute(imported));

/** A repository: in a repositories/ folder, or a factor's own (`src/factors/<id>/repository.ts`). */
const isRepository = (path: string) => path.startsWith('src/') && (path.includes('/repositories/') || /(^|[/-])repository\.ts$/.test(path));

const DATABASE = (imported: string) =>
  ['kysely', 'pg', '@electric-sql/pglite'].includes(imported) || isRepository(imported) || ['src/db/unit-of-work.ts', 'src/db/database.ts'].includes(imported);

test('the import graph is read: every file of src/ is there, and the known imports are found', () => {
  expect(FILES.length).toBeGreaterThan(50);
  expect(GRAPH.get('src/main.ts')).toContain('src/server.ts');
  expect(GRAPH.get('src/db/database.ts')).toEqual(expect.arrayContaining(['kysely', 'src/db/change-feed.ts']));
  expect(FILES.filter(isRoute)).toEqual(expect.arrayContaining(['src/interactions/routes.ts', 'src/account/routes.ts', 'src/http/health.ts', 'src/factors/dap/routes.ts', 'src/factors/dap/app.ts']));
});

test('no file of src/ takes part in an import circle', () => {
  expect(circles()).toEqual([]);
});

test('the sign-in core (src/auth) imports nothing of HTTP: no koa, no router, nothing of the HTTP layers', () => {
  expect(breaches(under('auth'), HTTP)).toEqual([]);
});

test('no route imports Kysely, a database driver, a repository or the unit of work: it calls the core', () => {
  expect(breaches(isRoute, DATABASE)).toEqual([]);
});

test('src/db imports nothing from the layers above it', () => {
  expect(breaches(under('db'), under('auth', 'http', 'interactions', 'account', 'factors', 'oidc', 'admin', 'cli', 'demo'))).toEqual([]);
});

test('src/http, the plumbing every route uses, imports nothing from the features built on it', () => {
  expect(breaches(under('http'), under('oidc', 'interactions', 'account', 'factors', 'admin', 'cli', 'demo'))).toEqual([]);
});

test('the provider (src/oidc) imports nothing from the operator tools (src/admin, src/cli): rules both need live in src/oidc', () => {
  expect(breaches(under('oidc'), under('admin', 'cli'))).toEqual([]);
});

test('only src/oidc/interaction-store.ts writes into the provider’s stored Interaction', () => {
  const WRITES = /\.(interactionResult|interactionFinished)\(|\.setField\(/;
  const writers = FILES.filter((file) => WRITES.test(readFileSync(join(ROOT, file), 'utf8')));
  expect(writers).toEqual(['src/oidc/interaction-store.ts']);
});
