/**
 * Every repository, built over one database handle (a transaction or the pool) by the unit of
 * work (src/db/unit-of-work.ts). `hooks` are what happens after a commit: the metrics count
 * audited events, the mail sender wakes up for queued mail.
 */
import type { Db } from '../database.ts';
import type { Effects, RepositoryKey, TransactionRepos } from '../unit-of-work.ts';
import { AccountsRepository } from './accounts.ts';
import { type AuditEvent, AuditRepository } from './audit.ts';
import { ClientsRepository } from './clients.ts';
import { EnrollmentsRepository } from './enrollments.ts';
import { FactorsRepository } from './factors.ts';
import { MailOutboxRepository } from './mail-outbox.ts';
import { OidcPayloadsRepository } from './oidc-payloads.ts';
import { OneTimeCodesRepository } from './one-time-codes.ts';
import { PairwiseKeyRepository } from './pairwise-key.ts';
import { PendingChangesRepository } from './pending-changes.ts';
import { PortalSessionsRepository } from './portal-sessions.ts';
import { RecoveryRequestsRepository } from './recovery-requests.ts';
import { SealedValuesRepository } from './sealed-values.ts';
import { SignInsRepository } from './sign-ins.ts';
import { SigningKeysRepository } from './signing-keys.ts';
import { ThrottleRepository } from './throttle.ts';

export interface RepositoryHooks {
  onAudit?: (event: AuditEvent) => void;
  onMailQueued?: () => void;
}

export function repositoryKey<R>(make: (db: Db, effects: Effects) => R): RepositoryKey<R> {
  return { make };
}

export function repositories(db: Db, effects: Effects, hooks: RepositoryHooks = {}) {
  const own = new Map<RepositoryKey<unknown>, unknown>();
  const audit = new AuditRepository(db, effects, hooks.onAudit);
  const outbox = new MailOutboxRepository(db, effects, hooks.onMailQueued);
  return {
    /** A factor's own repository, over this same handle (so inside the same unit of work). */
    of<R>(key: RepositoryKey<R>): R {
      if (!own.has(key)) own.set(key, key.make(db, effects));
      return own.get(key) as R;
    },
    accounts: new AccountsRepository(db),
    audit,
    clients: new ClientsRepository(db),
    codes: new OneTimeCodesRepository(db, { audit, outbox }),
    enrollments: new EnrollmentsRepository(db),
    factors: new FactorsRepository(db),
    outbox,
    pairwiseKey: new PairwiseKeyRepository(db),
    payloads: new OidcPayloadsRepository(db),
    pendingChanges: new PendingChangesRepository(db),
    portalSessions: new PortalSessionsRepository(db),
    recovery: new RecoveryRequestsRepository(db),
    sealed: new SealedValuesRepository(db),
    signIns: new SignInsRepository(db, { audit, outbox }),
    signingKeys: new SigningKeysRepository(db),
    throttle: new ThrottleRepository(db),
  };
}

/** Repositories whose every statement stands alone (`UnitOfWork.repos`): no lock outlives its statement. */
export type Repos = ReturnType<typeof repositories>;

/** The same repositories inside one transaction (`UnitOfWork.transaction`): their locking reads too. */
export type TxRepos = TransactionRepos<Repos>;
