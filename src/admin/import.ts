/**
 * Bulk import of accounts from CSV, streaming: rows are parsed (csv-parse), checked one by one
 * and inserted in batches of one statement each, all inside one transaction, so a file that
 * turns out malformed half-way leaves nothing behind. A row whose content is wrong (bad email,
 * duplicate username in the file, a password hash that is not argon2id) is rejected with its line
 * number and reason, and the others go in. A username that already exists is skipped, not
 * changed: running the same file again adds only what is missing.
 *
 * Columns (a header line names them, in any order): username, name, email, and optionally
 * password_hash — an argon2id hash in PHC form, as another system exported it. Without one the
 * account gets a password nobody knows, and the citizen sets one with "forgotten password".
 */
import { randomBytes } from 'node:crypto';
import { parse } from 'csv-parse';
import type { Deps } from '../deps.ts';
import { normalizeUsername } from '../db/repositories/accounts.ts';
import { AdminError, NewAccountInput } from './accounts.ts';

export const IMPORT_COLUMNS = ['username', 'name', 'email', 'password_hash'] as const;
const REQUIRED = ['username', 'name', 'email'] as const;
const BATCH = 1000;

/** argon2id in PHC string form: $argon2id$v=19$m=…,t=…,p=…$salt$hash (parameters in any order). */
const ARGON2ID_PHC = /^\$argon2id\$v=19\$(?=[^$]*\bm=\d{1,7}\b)(?=[^$]*\bt=\d{1,3}\b)(?=[^$]*\bp=\d{1,3}\b)[mtp]=\d+,[mtp]=\d+,[mtp]=\d+\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;

const AccountRow = NewAccountInput.omit({ password: true });

export class ImportFileError extends AdminError {
  override name = 'ImportFileError';
}

export interface Rejected {
  line: number;
  username: string | null;
  reason: string;
}

export interface ImportReport {
  rows: number;
  imported: number;
  existing: number;
  rejected: Rejected[];
}

export interface ImportProgress {
  /** Rows read so far, and bytes of the input consumed (for a progress bar over a file's size). */
  (state: { rows: number; imported: number; existing: number; rejected: number; bytes: number }): void;
}

export async function importAccounts(deps: Deps, input: NodeJS.ReadableStream, onProgress: ImportProgress = () => {}): Promise<ImportReport> {
  let bytes = 0;
  const parser = parse({
    bom: true,
    skip_empty_lines: true,
    trim: true,
    // A row with a wrong number of fields is that row's problem, reported, not the file's.
    relax_column_count: true,
    info: true,
    max_record_size: 64 * 1024,
  });
  input.on('error', (err) => parser.destroy(err));
  // The loop below sees the parser's errors; this keeps one that comes first from being unhandled.
  parser.on('error', () => {});

  // Accounts imported without a password get this hash of a random password nobody keeps: it
  // verifies as slowly as any other (no timing difference tells such accounts apart), never true.
  const unknownPasswordHash = await deps.passwords.hash(randomBytes(32).toString('base64url'));
  const report: ImportReport = { rows: 0, imported: 0, existing: 0, rejected: [] };
  const seen = new Set<string>();
  const now = deps.clock.now();
  const progress = () => onProgress({ rows: report.rows, imported: report.imported, existing: report.existing, rejected: report.rejected.length, bytes });

  try {
    await deps.uow.transaction(async (r) => {
      let batch: Array<{ id: string; username: string; name: string; email: string; passwordHash: string }> = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const inserted = await r.accounts.createMany(batch, now);
        report.imported += inserted.length;
        report.existing += batch.length - inserted.length;
        if (inserted.length > 0) {
          await r.audit.record(inserted.map((a) => ({ type: 'account.imported' as const, accountId: a.id, detail: { by: 'operator' } })), now);
        }
        batch = [];
        progress();
      };
      let header: string[] | null = null;
      // Counted and piped only now: a stream that flows earlier would lose what it read meanwhile.
      input.on('data', (chunk: Buffer | string) => {
        bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      });
      input.pipe(parser);
      for await (const { record: fields, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
        if (!header) {
          header = checkHeader(fields);
          continue;
        }
        report.rows += 1;
        const line = info.lines;
        const record = Object.fromEntries(header.map((name, i) => [name, fields[i]]));
        const username = record['username'] ?? null;
        const reject = (reason: string) => report.rejected.push({ line, username, reason });
        if (fields.length !== header.length) {
          reject(`expected ${header.length} fields (${header.join(', ')}), found ${fields.length}`);
          continue;
        }
        const checked = AccountRow.safeParse({ username: record['username'], name: record['name'], email: record['email'] });
        if (!checked.success) {
          reject(checked.error.issues[0]!.message);
          continue;
        }
        const hash = record['password_hash'] ?? '';
        if (hash !== '' && !ARGON2ID_PHC.test(hash)) {
          reject('password_hash must be an argon2id hash in PHC form ($argon2id$v=19$m=…,t=…,p=…$salt$hash) or empty');
          continue;
        }
        const key = normalizeUsername(checked.data.username);
        if (seen.has(key)) {
          reject('username appears earlier in the file');
          continue;
        }
        seen.add(key);
        batch.push({ id: deps.random.uuid(), ...checked.data, passwordHash: hash || unknownPasswordHash });
        if (batch.length >= BATCH) await flush();
      }
      if (!header) throw new ImportFileError('the file is empty: the first line must name the columns username, name, email[, password_hash]');
      await flush();
    });
  } catch (err) {
    if (err instanceof AdminError) throw err;
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('CSV_')) {
      throw new ImportFileError(`the file is not valid CSV (${(err as Error).message}); nothing was imported`);
    }
    throw err;
  }
  progress();
  return report;
}

function checkHeader(header: string[]): string[] {
  const names = header.map((h) => h.trim().toLowerCase());
  const unknown = names.filter((n) => !(IMPORT_COLUMNS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new ImportFileError(`unknown column "${unknown[0]}" in the header: the columns are ${IMPORT_COLUMNS.join(', ')}`);
  const missing = REQUIRED.filter((c) => !names.includes(c));
  if (missing.length > 0) throw new ImportFileError(`the header line must name the columns ${REQUIRED.join(', ')} (and optionally password_hash); missing: ${missing.join(', ')}`);
  if (new Set(names).size !== names.length) throw new ImportFileError('a column is named twice in the header');
  return names;
}
