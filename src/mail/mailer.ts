/**
 * Composes kapu's mails from views/mail and queues them in the transactional outbox of the
 * caller's unit of work: a mail commits with what caused it, or not at all. The message (which
 * may hold a one-time code) is sealed at rest and dropped once sent.
 */
import type { MailOutboxRepository } from '../db/repositories/mail-outbox.ts';
import type { CodePurpose } from '../db/repositories/one-time-codes.ts';
import type { Network } from '../security/networks.ts';
import { AAD, type SecretBox } from '../security/secret-box.ts';
import type { Lang, Views } from '../views.ts';

/**
 * The recipient of a stand-in mail: queued where a page must not tell whether anyone gets a mail
 * (a guarded sign-in's wrong password), so that both ways write the same rows and keep the sender
 * as busy; the sender drops it unsent (src/mail/sender.ts). No address is empty.
 */
export const NOBODY = '';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** A one-time code mail: what the code is for decides its wording. */
export interface CodeMail {
  kind: CodePurpose;
  name: string;
  username: string;
  tag: string;
  code: string;
  minutes: number;
  /** When it was asked for, and from where: the citizen can tell a request of their own. */
  at: Date;
  /** The service signed into (the RP's name); null: kapu's own account portal. */
  service: string | null;
  browser: string | null;
}

/** A one-time link mail (a browser let past a username lock): what the link is for decides its wording. */
export interface LinkMail {
  kind: 'unlock';
  name: string;
  username: string;
  tag: string;
  url: string;
  minutes: number;
  /** When it was asked for, and from which browser. */
  at: Date;
  browser: string | null;
}

/**
 * A mail that tells the citizen something happened to the account: no code, no secret. What to
 * do if it was not them is `<key>.not_you` where the mail has words of its own for it (a changed
 * password cannot be changed back by its owner: they reset it), else the common `mail.not_you`.
 */
export interface NoticeMail {
  /** Locale key prefix: `<key>.subject` and `<key>.body` (and `<key>.not_you`, if any). */
  key: string;
  name: string;
  /** Values for the body's placeholders. */
  vars?: Record<string, string>;
  /** Where it happened, as a code mail names its request (a sign-in from a new browser). */
  facts?: { service: string | null; at: Date; browser: string | null; network: Network | null };
}

/** kapu's own pages a mail points to, as absolute addresses (from ISSUER). */
export interface MailLinks {
  /** "Elfelejtett jelszó": a new password, and every session ends. */
  reset: string;
}

export class Mailer {
  readonly #box: SecretBox;
  readonly #views: Views;
  readonly #links: MailLinks;

  constructor(box: SecretBox, views: Views, issuer: string) {
    this.#box = box;
    this.#views = views;
    this.#links = { reset: `${issuer}/account/reset` };
  }

  code(to: string, lang: Lang, mail: CodeMail): MailMessage {
    return this.#compose(to, lang, `mail.${mail.kind}.subject`, 'mail/code', { ...mail });
  }

  link(to: string, lang: Lang, mail: LinkMail): MailMessage {
    return this.#compose(to, lang, `mail.${mail.kind}.subject`, 'mail/link', { ...mail });
  }

  notice(to: string, lang: Lang, mail: NoticeMail): MailMessage {
    const own = `${mail.key}.not_you`;
    return this.#compose(to, lang, `${mail.key}.subject`, 'mail/notice', { ...mail, notYouKey: this.#views.has(own) ? own : 'mail.not_you', links: this.#links });
  }

  /** A message of the locale files, in `lang` (for values that go into a mail). */
  translate(lang: Lang, key: string): string {
    return this.#views.translator(lang)(key);
  }

  /**
   * Queues `message` in the caller's unit of work. A mail that carries a one-time code names it
   * (`codeId`, the code's id in one_time_code): the outbox sends it only while that code is live.
   */
  async queue(outbox: MailOutboxRepository, message: MailMessage, now: Date, options: { codeId?: string } = {}): Promise<void> {
    await outbox.enqueue({ ...this.seal(message), now, ...options });
  }

  /** `message` as the outbox keeps it, for a statement that queues it with other writes. */
  seal(message: MailMessage): { recipient: string; messageSealed: string } {
    const { to, subject, text, html } = message;
    return { recipient: to, messageSealed: this.#box.seal(JSON.stringify({ subject, text, html }), AAD.outbox) };
  }

  #compose(to: string, lang: Lang, subjectKey: string, template: string, data: Record<string, unknown>): MailMessage {
    const subject = this.#views.translator(lang)(subjectKey);
    return {
      to,
      subject,
      text: this.#views.render(`${template}-text`, lang, { ...data, subject }),
      html: this.#views.render(`${template}-html`, lang, { ...data, subject }),
    };
  }
}
