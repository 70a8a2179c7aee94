/**
 * The mail that tells a citizen failures piled up on their username (the first lock in a run of
 * failures, and the cap on failures in a row): how many and when, no code, nothing to click, in
 * their own language. It is written in the step's unit of work with the step's audit events.
 */
import type { AuditEvent } from '../db/repositories/audit.ts';
import type { Repos } from '../db/repositories/index.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import { type Mailer, NOBODY } from '../mail/mailer.ts';
import { DEFAULT_LANG, isLang } from '../views.ts';

/**
 * For a username that is nobody's, the same mail is queued to NOBODY (never sent): the lock must
 * not tell, by the work it does, whether the name is anyone's.
 */
export async function tellFailures(
  uow: UnitOfWork<Repos>,
  mailer: Mailer,
  account: { name: string; email: string; lang: string | null } | null,
  failures: number,
  events: AuditEvent[],
  now: Date,
): Promise<void> {
  const lang = isLang(account?.lang) ? account.lang : DEFAULT_LANG;
  const when = now.toLocaleString(lang === 'en' ? 'en-GB' : 'hu-HU', { timeZone: 'Europe/Budapest', dateStyle: 'short', timeStyle: 'short' });
  await uow.transaction(async (r) => {
    await r.audit.record(events, now);
    await mailer.queue(r.outbox, mailer.notice(account?.email ?? NOBODY, lang, { key: 'mail.failed_signins', name: account?.name ?? '', vars: { count: String(failures), when } }), now);
  });
}
