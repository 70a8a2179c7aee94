/**
 * The signing key ring with its database away (src/oidc/keys.ts): discovery and JWKS must keep
 * answering, so a refresh never fails a request. It serves the keys it holds, asks the database
 * again only after a pause (a request meanwhile does not wait on it), and takes the keys as they
 * are once the database answers. In-memory fakes: no database, no provider.
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import type { Change, ChangeFeed } from '../../src/db/change-feed.ts';
import type { Repos } from '../../src/db/repositories/index.ts';
import type { UnitOfWork } from '../../src/db/unit-of-work.ts';
import { SigningKeyRing } from '../../src/oidc/keys.ts';
import { AAD, SecretBox } from '../../src/security/secret-box.ts';
import { captureLog } from '../helpers/captured-log.ts';

const box = new SecretBox([{ id: 'k1', key: randomBytes(32) }]);

function keyRow(alg: 'ES256' | 'RS256', created: Date) {
  const kid = randomUUID();
  const { privateKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  return { kid, alg, private_jwk_sealed: box.seal(JSON.stringify(jwk), AAD.signingKey(kid)), created_at: created, signs_from: created, retired_at: null };
}

/** The signing_key table, which can go away; it counts the reads it was asked for. */
class FakeKeyTable {
  rows = [keyRow('ES256', new Date()), keyRow('RS256', new Date())];
  away = false;
  reads = 0;
  readonly repos = {
    signingKeys: {
      active: async () => {
        this.reads += 1;
        if (this.away) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        return this.rows;
      },
      lock: async () => {},
      add: async () => {},
    },
  };
  readonly uow = { repos: this.repos, transaction: async <T>(fn: (r: unknown) => Promise<T>) => fn(this.repos) } as unknown as UnitOfWork<Repos>;
}

/** A change feed whose connection the test drops. */
class FakeFeed implements ChangeFeed {
  live = true;
  #listeners: Array<{ onChange(change: Change): void; onReset(): void }> = [];
  subscribe(listener: { onChange(change: Change): void; onReset(): void }): void {
    this.#listeners.push(listener);
  }
  drop(): void {
    this.live = false;
    for (const l of this.#listeners) l.onReset();
  }
  async close(): Promise<void> {}
}

describe('the signing key ring with the database away', () => {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  test('a refresh serves the keys held, asks again only after a pause, and reads them again once the database answers', async () => {
    const table = new FakeKeyTable();
    const feed = new FakeFeed();
    const captured = captureLog();
    const ring = new SigningKeyRing({ uow: table.uow, box, clock: { now: () => new Date() }, changes: feed, log: captured.log });
    const held = (await ring.jwks()).keys.map((k) => k.kid);
    expect(held).toHaveLength(2);
    const readsAtStart = table.reads;

    // The database goes away; its listening connection drops with it.
    table.away = true;
    feed.drop();
    await expect(ring.refresh()).resolves.toBeUndefined();
    expect(table.reads).toBe(readsAtStart + 1);
    // Within the pause, requests do not even ask.
    jest.advanceTimersByTime(4_000);
    await expect(ring.refresh()).resolves.toBeUndefined();
    expect(table.reads).toBe(readsAtStart + 1);
    // Said once in the log, with its cause.
    expect(captured.lines.filter((l) => l['level'] === 40).map((l) => [l['msg'], (l['err'] as { message?: string }).message])).toEqual([
      ['signing keys: reloading them failed; serving the keys held', 'connect ECONNREFUSED 127.0.0.1:5432'],
    ]);

    // Back: the first refresh after the pause reads the keys again, and says so.
    table.away = false;
    jest.advanceTimersByTime(1_000);
    await ring.refresh();
    expect(table.reads).toBe(readsAtStart + 2);
    expect(captured.lines.at(-1)?.['msg']).toBe('signing keys reloaded: the database answers again');
  });
});
