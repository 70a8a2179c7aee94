/**
 * The bench's database: kapu's schema and one RP made with kapu's own code, and accounts
 * sharing one password hash (hashing thousands of passwords would only measure argon2 at
 * seeding time), written in batches straight into the tables.
 */
import { randomBytes } from 'node:crypto';
import { generateSecret } from 'otplib';
import { registerClient } from '../../src/admin/clients.ts';
import type { Config } from '../../src/config/index.ts';
import { buildDeps, closeDeps } from '../../src/deps.ts';
import { createLogger } from '../../src/log.ts';
import { buildProvider } from '../../src/oidc/provider.ts';
import { AAD } from '../../src/security/secret-box.ts';

export interface Seeded {
  clientSecret: string;
  users: { password: string[]; email: string[]; totp: string[] };
  totpSecrets: Map<string, string>;
}

export async function seed(config: Config, input: { password: string; redirectUri: string; perScenario: number }): Promise<Seeded> {
  const deps = await buildDeps(config, { log: createLogger('warn') });
  try {
    const provider = await buildProvider(deps);
    const { clientSecret } = await registerClient(deps, provider, { clientId: 'bench-rp', redirectUris: [input.redirectUri], authMethod: 'client_secret_basic' });
    const hash = await deps.passwords.hash(input.password);
    const totpSecrets = new Map<string, string>();
    const users: Seeded['users'] = { password: [], email: [], totp: [] };
    const now = new Date();
    for (const kind of ['password', 'email', 'totp'] as const) {
      const accounts = Array.from({ length: input.perScenario }, (_, i) => ({ id: randomBytes(12).toString('hex'), username: `${kind}${i}` }));
      const factors = accounts.flatMap(({ id, username }) => {
        if (kind === 'password') return [];
        const secret = kind === 'totp' ? generateSecret({ length: 20 }) : null;
        if (secret) totpSecrets.set(username, secret);
        return [{ id: randomBytes(12).toString('hex'), account_id: id, kind, secret_sealed: secret && deps.box.seal(secret, AAD.factorSecret(id, kind)), last_time_step: null, created_at: now }];
      });
      // What the CLI would do one account at a time.
      for (let i = 0; i < accounts.length; i += 500) {
        await deps.db
          .insertInto('account')
          .values(accounts.slice(i, i + 500).map(({ id, username }) => ({ id, username, name: `Bench ${username}`, email: `${username}@example.hu`, password_hash: hash, created_at: now, updated_at: now })))
          .execute();
      }
      for (let i = 0; i < factors.length; i += 500) await deps.db.insertInto('factor').values(factors.slice(i, i + 500)).execute();
      users[kind].push(...accounts.map((a) => a.username));
    }
    return { clientSecret: clientSecret!, users, totpSecrets };
  } finally {
    await closeDeps(deps);
  }
}
