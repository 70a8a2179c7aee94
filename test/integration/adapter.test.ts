/**
 * The contract oidc-provider relies on from its storage Adapter, checked against kapu's adapter
 * over a real database (PGlite, or Postgres with DATABASE_URL).
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { createAdapterFactory, providerUnitOfWork } from '../../src/oidc/adapter.ts';
import { type TestKapu, startTestKapu } from '../helpers/kapu.ts';

describe('the oidc-provider storage adapter', () => {
  let kapu: TestKapu;
  let adapter: (model: string) => Adapter;
  beforeAll(async () => {
    // The mail sender wakes when mail is queued; no polling adds statements while they are counted.
    kapu = await startTestKapu({ overrides: { mailPollMs: 3_600_000 } });
    const { repos, clients } = kapu.deps;
    adapter = createAdapterFactory({ payloads: repos.payloads, clients, clock: kapu.clock });
  });
  afterAll(async () => {
    await kapu?.close();
  });

  const HOUR = 3600;

  /** Which of these rows are in the table at all, expired or not (the adapter hides expired ones). */
  async function storedIds(ids: string[]): Promise<string[]> {
    const rows = await kapu.deps.db.selectFrom('oidc_payload').select('id').where('id', 'in', ids).execute();
    return rows.map((r) => r.id).sort();
  }

  test('what is upserted is found again, and a second upsert replaces it', async () => {
    const sessions = adapter('Session');
    const id = randomUUID();
    const payload = { jti: id, uid: randomUUID(), accountId: 'account-1', loginTs: 1_700_000_000, kind: 'Session' } as AdapterPayload;
    await sessions.upsert(id, payload, HOUR);
    expect(await sessions.find(id)).toEqual(payload);

    await sessions.upsert(id, { ...payload, accountId: 'account-2' }, HOUR);
    expect(await sessions.find(id)).toEqual({ ...payload, accountId: 'account-2' });
    expect(await sessions.find(randomUUID())).toBeUndefined();
  });

  test('the same id under another model is another row', async () => {
    const id = randomUUID();
    await adapter('AccessToken').upsert(id, { jti: id, kind: 'AccessToken' } as AdapterPayload, HOUR);
    expect(await adapter('RefreshToken').find(id)).toBeUndefined();
    expect(await adapter('AccessToken').find(id)).toMatchObject({ kind: 'AccessToken' });
  });

  test('a row is found until its expiry, and not after it', async () => {
    const codes = adapter('AuthorizationCode');
    const id = randomUUID();
    await codes.upsert(id, { jti: id, kind: 'AuthorizationCode' } as AdapterPayload, 60);
    kapu.clock.advance(59);
    expect(await codes.find(id)).toBeDefined();
    kapu.clock.advance(2);
    expect(await codes.find(id)).toBeUndefined();
  });

  test('a row stored without an expiry never expires', async () => {
    const grants = adapter('Grant');
    const id = randomUUID();
    await grants.upsert(id, { jti: id, kind: 'Grant' } as AdapterPayload, 0);
    kapu.clock.advance(365 * 24 * HOUR);
    expect(await grants.find(id)).toMatchObject({ jti: id });
  });

  test('consume marks a row consumed (epoch seconds); consuming it again is refused as reuse and keeps the first time', async () => {
    const codes = adapter('AuthorizationCode');
    const id = randomUUID();
    await codes.upsert(id, { jti: id, kind: 'AuthorizationCode' } as AdapterPayload, HOUR);
    expect((await codes.find(id))?.consumed).toBeUndefined();

    const before = Math.floor(kapu.clock.now().getTime() / 1000);
    await codes.consume(id);
    const after = Math.floor(kapu.clock.now().getTime() / 1000);
    const consumed = (await codes.find(id))?.consumed as number;
    expect(consumed).toBeGreaterThanOrEqual(before);
    expect(consumed).toBeLessThanOrEqual(after);

    kapu.clock.advance(30);
    await expect(codes.consume(id)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await codes.find(id))?.consumed).toBe(consumed);
  });

  describe('redeeming at the token endpoint (one unit of work per provider request)', () => {
    /**
     * What the token endpoint does with a refresh token, as oidc-provider does it: find it, see
     * it unconsumed, consume it, save the new tokens, answer. `checked` lets a test hold every
     * request between its check and its redemption, as a race would.
     */
    async function redeem(refreshToken: string, grantId: string, checked?: () => Promise<void>) {
      const ctx = { status: 200, body: undefined } as unknown as Context;
      const issued = randomUUID();
      await providerUnitOfWork(kapu.deps.repos.payloads)(ctx, async () => {
        const found = await adapter('RefreshToken').find(refreshToken);
        if (!found || found.consumed) throw new Error('the refresh token should look redeemable');
        await checked?.();
        await adapter('RefreshToken').consume(refreshToken);
        await adapter('AccessToken').upsert(issued, { jti: issued, grantId, kind: 'AccessToken' } as AdapterPayload, HOUR);
        ctx.body = { access_token: issued };
      });
      return { status: ctx.status, body: ctx.body as Record<string, unknown>, issued };
    }

    /** A promise-returning gate that opens once `parties` callers have reached it. */
    function barrier(parties: number): () => Promise<void> {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      let arrived = 0;
      return () => {
        arrived += 1;
        if (arrived === parties) open();
        return opened;
      };
    }

    async function grantWithRefreshToken() {
      const grantId = randomUUID();
      const refreshToken = randomUUID();
      await adapter('Grant').upsert(grantId, { jti: grantId, kind: 'Grant' } as AdapterPayload, HOUR);
      await adapter('RefreshToken').upsert(refreshToken, { jti: refreshToken, grantId, kind: 'RefreshToken' } as AdapterPayload, HOUR);
      return { grantId, refreshToken };
    }

    test('the redemption and the tokens it pays for are stored in one statement', async () => {
      const { grantId, refreshToken } = await grantWithRefreshToken();
      const before = kapu.deps.dbStats.statements;
      const { status, body, issued } = await redeem(refreshToken, grantId);
      // One read (the token with its grant and account), one write: the redemption with the new token.
      expect(kapu.deps.dbStats.statements - before).toBe(2);
      expect(status).toBe(200);
      expect(body).toEqual({ access_token: issued });
      expect((await adapter('RefreshToken').find(refreshToken))?.consumed).toEqual(expect.any(Number));
      expect(await adapter('AccessToken').find(issued)).toMatchObject({ grantId });
    });

    test('of two requests redeeming one refresh token at once, one gets tokens; the other gets invalid_grant and the grant is revoked', async () => {
      const { grantId, refreshToken } = await grantWithRefreshToken();
      // Both requests have seen the token unconsumed before either redeems it: the race at its worst.
      const bothChecked = barrier(2);
      const results = await Promise.all([redeem(refreshToken, grantId, bothChecked), redeem(refreshToken, grantId, bothChecked)]);
      const won = results.filter((r) => r.status === 200);
      const lost = results.filter((r) => r.status !== 200);
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      expect(JSON.stringify(lost[0]!.body)).not.toContain(lost[0]!.issued);
      // Reuse ends the grant: the winner's new token is not honoured either, nor the loser's stored.
      expect(await adapter('Grant').find(grantId)).toBeUndefined();
      expect(await storedIds([won[0]!.issued, lost[0]!.issued])).toEqual([]);
    });
  });

  test('findByUid finds a session by its uid, and only within its own model', async () => {
    const id = randomUUID();
    const uid = randomUUID();
    await adapter('Session').upsert(id, { jti: id, uid, kind: 'Session' } as AdapterPayload, HOUR);
    expect(await adapter('Session').findByUid(uid)).toMatchObject({ jti: id, uid });
    expect(await adapter('Session').findByUid(randomUUID())).toBeUndefined();
    expect(await adapter('Interaction').findByUid(uid)).toBeUndefined();
  });

  test('findByUserCode finds a device code by its user code, and honours expiry', async () => {
    const devices = adapter('DeviceCode');
    const id = randomUUID();
    const userCode = `UC-${randomUUID().slice(0, 8)}`;
    await devices.upsert(id, { jti: id, userCode, kind: 'DeviceCode' } as AdapterPayload, 60);
    expect(await devices.findByUserCode(userCode)).toMatchObject({ jti: id, userCode });
    expect(await devices.findByUserCode('UC-unknown')).toBeUndefined();
    kapu.clock.advance(61);
    expect(await devices.findByUserCode(userCode)).toBeUndefined();
  });

  test('destroy removes the row, and destroying a missing row is no error', async () => {
    const tokens = adapter('AccessToken');
    const id = randomUUID();
    await tokens.upsert(id, { jti: id, kind: 'AccessToken' } as AdapterPayload, HOUR);
    await tokens.destroy(id);
    expect(await tokens.find(id)).toBeUndefined();
    expect(await storedIds([id])).toEqual([]);
    await expect(tokens.destroy(id)).resolves.toBeUndefined();
  });

  test("revokeByGrantId removes every model's rows of that grant, and nothing of another grant", async () => {
    const revoked = `grant-${randomUUID()}`;
    const kept = `grant-${randomUUID()}`;
    const models = ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode'];
    const rows = models.flatMap((model) => [revoked, kept].map((grantId) => ({ model, grantId, id: randomUUID() })));
    for (const row of rows) await adapter(row.model).upsert(row.id, { jti: row.id, grantId: row.grantId, kind: row.model } as AdapterPayload, HOUR);

    // oidc-provider calls it on one model at a time; any one call removes the whole grant.
    await adapter('AccessToken').revokeByGrantId(revoked);

    for (const row of rows) {
      const found = await adapter(row.model).find(row.id);
      if (row.grantId === revoked) expect(found).toBeUndefined();
      else expect(found).toMatchObject({ grantId: kept });
    }
  });

  test('deleteExpired deletes the expired rows and only them', async () => {
    const tokens = adapter('AccessToken');
    const [expired, live, eternal] = [randomUUID(), randomUUID(), randomUUID()];
    await tokens.upsert(expired, { jti: expired } as AdapterPayload, 10);
    await tokens.upsert(live, { jti: live } as AdapterPayload, HOUR);
    await tokens.upsert(eternal, { jti: eternal } as AdapterPayload, 0);
    kapu.clock.advance(11);
    const now = kapu.clock.now();
    const expiredBefore = await kapu.deps.db.selectFrom('oidc_payload').select('id').where('expires_at', '<', now).execute();

    const deleted = await kapu.deps.repos.payloads.deleteExpired(now);

    expect(deleted).toBe(expiredBefore.length);
    expect(await storedIds([expired, live, eternal])).toEqual([live, eternal].sort());
    expect(await kapu.deps.db.selectFrom('oidc_payload').select('id').where('expires_at', '<', now).execute()).toEqual([]);
  });

  describe('the Client model', () => {
    test('reads the relying party from the clients table, with its secret opened', async () => {
      const { clientId, clientSecret } = await kapu.client({ clientName: 'Példa Hivatal' });
      const client = await adapter('Client').find(clientId);
      expect(client).toMatchObject({
        client_id: clientId,
        client_secret: clientSecret,
        client_name: 'Példa Hivatal',
        redirect_uris: ['https://rp.example.hu/callback'],
        token_endpoint_auth_method: 'client_secret_basic',
      });
    });

    test('the stored secret is sealed: the column holds neither the secret nor anything derived from it in the clear', async () => {
      const { clientId, clientSecret } = await kapu.client();
      const row = await kapu.deps.db.selectFrom('oidc_client').select(['secret_sealed', 'metadata']).where('client_id', '=', clientId).executeTakeFirstOrThrow();
      expect(row.secret_sealed).toBeTruthy();
      expect(row.secret_sealed).not.toContain(clientSecret);
      expect(row.secret_sealed).not.toContain(Buffer.from(clientSecret, 'base64url').toString('base64'));
      expect(JSON.stringify(row.metadata)).not.toContain(clientSecret);
    });

    test('an unknown client is not found', async () => {
      expect(await adapter('Client').find('no-such-client')).toBeUndefined();
    });

    test('clients are read-only to the provider: upsert is refused', async () => {
      const { clientId } = await kapu.client();
      await expect(adapter('Client').upsert(clientId, { client_id: clientId } as AdapterPayload, 0)).rejects.toThrow();
    });
  });
});
