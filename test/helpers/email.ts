/**
 * What the e2e tests of the emailed code share: reading a sign-in mail as a citizen does (the
 * plain-text part and what the HTML part shows), and a code that is surely not the mailed one.
 */
import { parse } from 'node-html-parser';
import { type MailSink, type ReceivedMail, readCodeMail } from './mail-sink.ts';

export interface CodeMail {
  mail: ReceivedMail;
  /** The 3-digit munkamenet-azonosító and the 6-digit code, read from the mail's text. */
  tag: string;
  code: string;
  /** The HTML part as a mail client shows it: its text, whitespace folded. */
  htmlText: string;
}

/**
 * The next mail to arrive after the first `since` mails (to `to`, if given), read as a code
 * mail. Without `to` it is simply the next mail: kapu's outbox sends in the order it queued,
 * so "the next mail is the one for this later action" proves nothing was queued before it.
 */
export async function nextCodeMail(sink: MailSink, since: number, to?: string): Promise<CodeMail> {
  const mail = await sink.next((m) => to === undefined || m.to.includes(to), since);
  return { mail, ...readCodeMail(mail), htmlText: visibleHtml(mail.html) };
}

/** The text a mail client shows for an HTML body (the `<body>`), whitespace folded. */
export function visibleHtml(html: string): string {
  const doc = parse(html);
  return (doc.querySelector('body') ?? doc).text.replace(/\s+/g, ' ').trim();
}

/** A well-formed code that differs from `code` in every digit. */
export function wrongCode(code: string): string {
  return code.replace(/\d/g, (d) => String((Number(d) + 1) % 10));
}
