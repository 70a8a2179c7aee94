/**
 * A locking read holds its lock until the transaction around it ends, so it means something only
 * inside a unit of work. The repositories `UnitOfWork.transaction` hands out have a type of their
 * own (TxRepos); the statements-on-their-own set (`UnitOfWork.repos`, Repos) has no locking read.
 *
 * The type rules are checked by `npm run typecheck` (which covers test/): each `@ts-expect-error`
 * below fails the type check the day its line compiles, that is the day a locking read can be
 * called outside a transaction. The tests then show the unit of work hands each set the handle
 * its type promises.
 */
import type { Db } from '../../src/db/database.ts';
import type { Repos, TxRepos } from '../../src/db/repositories/index.ts';
import { type Effects, UnitOfWork } from '../../src/db/unit-of-work.ts';
import { DAP_REPOSITORY } from '../../src/factors/dap/repository.ts';

const NOW = new Date('2027-01-16T09:00:00Z');

/** Never run: the type checker reads it. Outside a transaction, no lock can be asked for. */
export async function outsideAUnitOfWork(repos: Repos): Promise<void> {
  // @ts-expect-error the flow's lock would end with its own statement
  await repos.signIns.lock('uid');
  // @ts-expect-error the open enrollment's lock, likewise
  await repos.enrollments.findOpen('id', 'account', NOW);
  // @ts-expect-error the pending change's lock, likewise
  await repos.pendingChanges.findOpen('id', 'reset', NOW);
  // @ts-expect-error the DÁP enrollment's lock, likewise
  await repos.of(DAP_REPOSITORY).openEnrollment('id', NOW);
  // @ts-expect-error the signing keys' advisory lock, likewise
  await repos.signingKeys.lock();
  // A look without a lock is fine anywhere.
  await repos.enrollments.peekOpen('id', 'account', NOW);
  await repos.pendingChanges.peekOpen('id', 'reset', NOW);
  await repos.of(DAP_REPOSITORY).peekEnrollment('id', NOW);
}

/** Never run: inside a transaction every read is there, and the set still serves where Repos is asked for. */
export async function insideAUnitOfWork(repos: TxRepos, plainStep: (r: Repos) => Promise<void>): Promise<void> {
  await repos.signIns.lock('uid');
  await repos.enrollments.findOpen('id', 'account', NOW);
  await repos.pendingChanges.findOpen('id', 'reset', NOW);
  await repos.of(DAP_REPOSITORY).openEnrollment('id', NOW);
  await repos.signingKeys.lock();
  await plainStep(repos);
}

/** A database handle that only records which handle a repository set was built over. */
function fakeDb(options: { fail?: boolean } = {}) {
  const trx = { isTransaction: true, name: 'trx' };
  const db = {
    isTransaction: false,
    name: 'pool',
    transaction: () => ({
      execute: async <T>(fn: (t: typeof trx) => Promise<T>) => {
        const result = await fn(trx);
        if (options.fail) throw new Error('commit failed');
        return result;
      },
    }),
  };
  return db as unknown as Db;
}

interface Built {
  over: string;
  effects: Effects;
}

function unitOfWork(options: { fail?: boolean } = {}) {
  return new UnitOfWork<Built>(fakeDb(options), (handle, effects) => ({ over: (handle as unknown as { name: string }).name, effects }));
}

test('statements on their own run over the pool; a transaction’s repositories over the transaction', async () => {
  const uow = unitOfWork();
  expect(uow.repos.over).toBe('pool');
  expect(await uow.run(async (r) => r.over)).toBe('pool');
  expect(await uow.transaction(async (r) => r.over)).toBe('trx');
});

test('what waits for the commit happens after it, and never when the transaction fails', async () => {
  const seen: string[] = [];
  await unitOfWork().transaction(async (r) => {
    r.effects.afterCommit(() => seen.push('after commit'));
    seen.push('in the transaction');
  });
  expect(seen).toEqual(['in the transaction', 'after commit']);

  const failed: string[] = [];
  await expect(unitOfWork({ fail: true }).transaction(async (r) => r.effects.afterCommit(() => failed.push('after commit')))).rejects.toThrow('commit failed');
  expect(failed).toEqual([]);
});
