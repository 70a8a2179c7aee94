/**
 * The sign-in core without HTTP: kapu's dependencies on a fresh database (PGlite in memory, or a
 * fresh database on DATABASE_URL's Postgres), no server and no provider. A sign-in starts the
 * way oidc-provider starts one — an Interaction row with the RP's parameters — and mail is kept
 * in the development mailbox, delivered when the test asks.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { addFactor, createAccount } from '../../src/admin/accounts.ts';
import type { Who } from '../../src/auth/who.ts';
import { loadConfig } from '../../src/config/index.ts';
import { type Deps, buildDeps, closeDeps } from '../../src/deps.ts';
import type { Factor, TypedProof } from '../../src/factors/factor.ts';
import { FACTORS } from '../../src/factors/index.ts';
import { createLogger } from '../../src/log.ts';
import type { DevMail } from '../../src/mail/dev-mailbox.ts';
import { TestClock } from './clock.ts';
import { embeddedDatabase, freshDatabase } from './database.ts';
import { testEnv } from './env.ts';
import { PASSWORD } from './kapu.ts';

export const CLIENT_ID = 'core-rp';
export const ISSUER = 'https://kapu.example.hu';
export const FROM: Who = { ip: '192.0.2.10', lang: 'hu', browser: 'Firefox 133, Linux' };

export interface CoreHarness {
  deps: Deps;
  clock: TestClock;
  /** Starts a sign-in at the RP as oidc-provider would: returns the interaction uid. */
  interaction(params?: Record<string, string>): Promise<string>;
  account(username: string, factors?: string[]): Promise<{ id: string; username: string; email: string; totpSecret: string | null }>;
  /** Sends what the outbox holds; returns the mails that went out, newest first. */
  deliver(): Promise<readonly DevMail[]>;
  /** The interaction's stored result (what oidc-provider's resume endpoint reads). */
  result(uid: string): Promise<Record<string, unknown> | undefined>;
  close(): Promise<void>;
}

export async function startCore(options: { env?: Record<string, string>; minAcr?: string; extraFactors?: Factor[] } = {}): Promise<CoreHarness> {
  const database = await freshDatabase();
  const config = loadConfig(testEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: 'memory://',
    ISSUER,
    COOKIE_KEYS: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEYS: `t1:${randomBytes(32).toString('base64')}`,
    ...(database.url && { DATABASE_URL: database.url, DATABASE_POOL_SIZE: '4' }),
    // As in kapu.ts: on only where a test of the new-browser mail asks for it.
    NEW_BROWSER_MAIL: 'false',
    ...options.env,
  }));
  const clock = new TestClock();
  const log = createLogger('silent');
  const embedded = await embeddedDatabase(config, log);
  // A factor kapu does not ship (a test's own) is registered beside the others, as a new folder
  // and one line in src/factors/index.ts would register it.
  const extra = (options.extraFactors ?? []).map((factor) => ({ id: factor.id, folder: new URL('./', import.meta.url), create: () => factor }));
  const deps = await buildDeps(config, { clock, log, mailPollMs: 3_600_000, factors: [...FACTORS, ...extra], ...(embedded && { database: embedded }) });
  await deps.repos.clients.create({
    clientId: CLIENT_ID,
    secretSealed: null,
    metadata: { client_name: 'Teszt szolgáltatás', redirect_uris: ['https://rp.example.hu/callback'], ...(options.minAcr && { min_acr: options.minAcr }) },
    now: clock.now(),
  });
  const ready = deps;
  return {
    deps: ready,
    clock,
    async interaction(params = {}) {
      const uid = randomUUID();
      await ready.repos.payloads.upsert({
        model: 'Interaction',
        id: uid,
        payload: {
          jti: uid,
          kind: 'Interaction',
          returnTo: `${ISSUER}/auth/${uid}`,
          prompt: { name: 'login', reasons: ['no_session'], details: {} },
          params: { client_id: CLIENT_ID, redirect_uri: 'https://rp.example.hu/callback', scope: 'openid', ...params },
        },
        expiresAt: new Date(clock.now().getTime() + 3600_000),
      });
      return uid;
    },
    async account(username, factors = []) {
      const account = await createAccount(ready, { username, name: `Teszt ${username}`, email: `${username}@example.hu`, password: PASSWORD });
      let totpSecret: string | null = null;
      for (const factor of factors) {
        const { secretForDisplay } = await addFactor(ready, username, factor);
        if (secretForDisplay) totpSecret = new URL(secretForDisplay).searchParams.get('secret');
      }
      return { id: account.id, username: account.username, email: account.email, totpSecret };
    },
    async deliver() {
      await ready.sender.deliverDue();
      return ready.devMailbox!.list();
    },
    async result(uid) {
      const row = await ready.db.selectFrom('oidc_payload').select('payload').where('model', '=', 'Interaction').where('id', '=', uid).executeTakeFirst();
      return row?.payload['result'] as Record<string, unknown> | undefined;
    },
    async close() {
      await closeDeps(ready);
      await database.drop();
    },
  };
}

/** The 3-digit tag and 6-digit code of a code mail (sign-in or enrollment), from its text. */
export function codeOf(mail: DevMail): { tag: string; code: string } {
  const tag = /(?:Munkamenet-azonosító|Session ID): (\d{3})/.exec(mail.text)?.[1];
  const code = /(?:Hitelesítő kód|Megerősítő kód|Sign-in code|Confirmation code): (\d{6})/.exec(mail.text)?.[1];
  if (!tag || !code) throw new Error(`not a code mail: ${mail.subject}`);
  return { tag, code };
}

/** A factor's typed sign-in proof (a code), to check an answer directly. */
export function typedProof(factor: Factor | undefined): TypedProof<unknown> {
  const proof = factor?.signIn;
  if (proof?.answered !== 'typed') throw new Error(`${factor?.id} has no typed sign-in proof`);
  return proof;
}
