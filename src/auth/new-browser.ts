/**
 * The mail a citizen gets when their account signs in from a browser kapu has not seen for it
 * (SPEC §9; NEW_BROWSER_MAIL): when, at which service, which browser, from which network (kapu
 * has no location database), and what to do if it was not them — as banks do. A browser that
 * signed in to the account before carries its signed device cookie and gets none.
 *
 * It costs a sign-in nothing it does not need: whether the browser is known comes from the
 * cookie (no statement), and a new one adds one outbox row to the finishing step's own unit of
 * work; the outbox sends it after the response, so nobody waits for the mail server.
 */
import type { FactorAccount } from '../factors/factor.ts';
import type { Mailer } from '../mail/mailer.ts';
import { networkOf } from '../security/networks.ts';
import type { Lang } from '../views.ts';

/** The browser that finishes a sign-in, as the core knows it. */
export interface FinishingBrowser {
  ip: string;
  browser: string | null;
  /** Its device cookie: the account it signed in to before, if any. */
  device?: { accountId: string } | null;
}

/** Is this the account's first sign-in from this browser (as far as kapu can tell)? */
export function isNewBrowser(who: FinishingBrowser, accountId: string): boolean {
  return who.device?.accountId !== accountId;
}

/** The new-browser mail, sealed for the outbox, in the language of the sign-in's pages: the finishing statement queues it. */
export function newBrowserMail(mailer: Mailer, to: FactorAccount, lang: Lang, at: { service: string | null; who: FinishingBrowser; now: Date }): { recipient: string; messageSealed: string } {
  const facts = { service: at.service, at: at.now, browser: at.who.browser, network: networkOf(at.who.ip) };
  return mailer.seal(mailer.notice(to.email, lang, { key: 'mail.new_browser', name: to.name, facts }));
}
