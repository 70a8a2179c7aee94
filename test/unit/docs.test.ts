/**
 * README.md and config/README.md stand on their own in a clone of the repository, and their
 * commands work as written on a machine with Node.js ≥ 20 and npm (kapu's Node 22 comes from
 * npm: a bare `node` would be the machine's own).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const DOCS = ['README.md', 'config/README.md'];
const scripts = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

/** The lines of a document's shell code blocks, and its inline `code` spans. */
function commands(text: string): string[] {
  const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split('\n'));
  const inline = [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
  return [...blocks, ...inline].map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean);
}

describe.each(DOCS)('%s', (doc) => {
  const text = readFileSync(join(ROOT, doc), 'utf8');

  test('every relative link points at a file of the repository', () => {
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l) && !l.startsWith('#'));
    const outside = links.filter((l) => {
      const target = resolve(dirname(join(ROOT, doc)), l.split('#')[0]!);
      return !target.startsWith(`${ROOT}/`) || !existsSync(target);
    });
    expect(outside).toEqual([]);
  });

  test('every npm script it names exists, and no command runs kapu with a bare node', () => {
    const named = commands(text).flatMap((c) => [...c.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!));
    expect(named.filter((s) => !scripts.includes(s))).toEqual([]);
    // A command that runs one of kapu's files (`node … src/main.ts`), not a mention of a Node flag.
    expect(commands(text).filter((c) => /^(?:\S+=\S+ )*node\s.*\.ts\b/.test(c))).toEqual([]);
  });
});
