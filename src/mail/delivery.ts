/**
 * Mail delivery of one replica: the outbox sender and what it knows of the mail server, tied to
 * the other replicas through the change feed. When a replica finds the server gone or back, it
 * says so on the feed: every replica probes the server at once (rather than at its next try),
 * and every sender starts sending the moment its replica finds the server back.
 */
import type { Transporter } from 'nodemailer';
import type { Clock } from '../clock.ts';
import type { ChangeFeed } from '../db/change-feed.ts';
import { MAIL_CHANGE, type MailOutboxRepository } from '../db/repositories/mail-outbox.ts';
import type { Logger } from '../log.ts';
import type { SecretBox } from '../security/secret-box.ts';
import { OutboxSender } from './sender.ts';
import { SMTP_STATUS_DEFAULTS, SmtpStatus, describe } from './smtp-status.ts';

/**
 * A claim's lease. Short, so that a mail held by a replica that died goes out from another within
 * seconds; the sender renews it while it sends, so a slow server cannot make two replicas send
 * one mail.
 */
export const MAIL_LEASE_SECONDS = 10;

export interface MailDeliveryDeps {
  outbox: MailOutboxRepository;
  changes: ChangeFeed;
  transport: Transporter;
  box: SecretBox;
  clock: Clock;
  log: Logger;
}

export function mailDelivery(deps: MailDeliveryDeps, options: { from: string; pollMs: number }): { sender: OutboxSender; smtp: SmtpStatus } {
  const log = deps.log.child({ component: 'mail' });
  const smtp = new SmtpStatus(
    {
      probe: canProbe(deps.transport) ? () => deps.transport.verify() : null,
      log,
      onChange: (state) => {
        if (state === 'up') sender.wake();
        deps.outbox.wakeAll(state).catch((err: unknown) => log.warn({ err: describe(err) }, 'could not tell the other replicas about the mail server'));
      },
    },
    SMTP_STATUS_DEFAULTS,
  );
  const sender: OutboxSender = new OutboxSender(
    { repo: deps.outbox, transport: deps.transport, box: deps.box, clock: deps.clock, log, smtp },
    { from: options.from, pollMs: options.pollMs, leaseSeconds: MAIL_LEASE_SECONDS, lanes: 4 },
  );
  deps.changes.subscribe({
    onChange: (change) => {
      if (change.kind !== MAIL_CHANGE) return;
      smtp.heard(change.id);
      if (change.id === 'up') sender.wake();
    },
    // Notices missed while the feed was down change nothing: the probes go on regardless.
    onReset: () => {},
  });
  return { sender, smtp };
}

/** A transport that can check its server (SMTP can; the development mailbox has nothing to check). */
function canProbe(transport: Transporter): boolean {
  return typeof (transport.transporter as { verify?: unknown }).verify === 'function';
}
