/**
 * A file over 300 lines is two files waiting to be named (STYLE.md, issue 18 item 4): no source
 * file in src/ is longer.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LIMIT = 300;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : /\.ts$/.test(name) ? [path] : [];
  });
}

test(`no file in src/ is over ${LIMIT} lines`, () => {
  const files = sources(join(ROOT, 'src'));
  expect(files.length).toBeGreaterThan(100);
  const long = files.map((f) => ({ file: relative(ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length - 1 })).filter((f) => f.lines > LIMIT);
  expect(long).toEqual([]);
});
