/**
 * The portal's change of email address (src/auth/email-change.ts), as thin routes on the
 * portal's router: the new address and the password again → the second factor's proof (the
 * app's code, or a code to the current address; another of the account's factors on request)
 * → the code the new address received.
 */
import type Router from '@koa/router';
import type { Result } from '../auth/result.ts';
import type { EmailChangeService } from '../auth/email-change.ts';
import type { Notice } from '../factors/factor.ts';
import { REFUSAL_STATUS } from '../http/refusals.ts';
import { type PortalKit, type SignedInPage, mailedNotice } from './kit.ts';

export function emailChangeRoutes(router: Router, kit: PortalKit, changes: EmailChangeService): void {
  const { form, signedIn, render, seeOther, idParam, text, who, codeMinutes } = kit;
  const status = (done: Extract<Result, { ok: false }>): number => REFUSAL_STATUS[done.refusal];

  router.get(
    '/email',
    signedIn(async (p) => render(p, 'account/email', 'account.email_title')),
  );

  router.post(
    '/email',
    form,
    signedIn(async (p, fields) => {
      const begun = await changes.begin(p.session, text(fields, 'password'), fields['email'], who(p));
      if (!begun.ok) return render(p, 'account/email', 'account.email_title', { notice: begun.notice, email: text(fields, 'email') }, status(begun));
      seeOther(p.ctx, `/account/email/${begun.changeId}`);
    }),
  );

  /** The change's page: the second factor's proof while it waits for one, then the new address's code. */
  async function renderChange(p: SignedInPage, id: string, notice: Notice | null, code = 200): Promise<void> {
    const change = await changes.page(p.session, id, p.lang);
    if (!change) return seeOther(p.ctx, '/account/email');
    if (change.step === 'code') {
      return render(p, 'account/email-code', 'account.email_title', { id, email: change.email, tag: change.tag, notice: notice ?? { key: 'account.email_code_sent', vars: { email: change.email, minutes: codeMinutes } } }, code, true);
    }
    const { view, factor, others, canResend, email } = change;
    render(p, 'account/email-proof', 'account.email_title', { id, email, proof: factor, view: view.data, proofTemplate: view.template, others, canResend, notice: notice ?? view.notice ?? null }, code, true);
  }

  const showChange = signedIn(async (p) => {
    await renderChange(p, idParam(p.ctx), mailedNotice(p.ctx));
  });
  router.get('/email/:id', showChange);
  // A refused answer is said on a GET of the address it was posted to (the portal's post/redirect/get).
  for (const step of ['proof', 'proof-factor', 'resend']) router.get(`/email/:id/${step}`, showChange);

  /** The answer (or a refusal) of a step, then the change's page again. */
  async function answered(p: SignedInPage, id: string, done: Result): Promise<void> {
    if (done.ok) return seeOther(p.ctx, `/account/email/${id}`);
    if (done.refusal === 'expired') return seeOther(p.ctx, '/account/email');
    return renderChange(p, id, done.notice, status(done));
  }

  router.post(
    '/email/:id/proof',
    form,
    signedIn(async (p, fields) => {
      const id = idParam(p.ctx);
      await answered(p, id, await changes.prove(p.session, id, fields, who(p)));
    }),
  );

  router.post(
    '/email/:id/proof-factor',
    form,
    signedIn(async (p, fields) => {
      const id = idParam(p.ctx);
      await answered(p, id, await changes.switchProof(p.session, id, fields['factor'], who(p)));
    }),
  );

  router.post(
    '/email/:id/resend',
    form,
    signedIn(async (p) => {
      const id = idParam(p.ctx);
      const notice = await changes.resend(p.session, id, who(p));
      if (!notice) return seeOther(p.ctx, '/account/email');
      if (notice.error) return renderChange(p, id, notice, REFUSAL_STATUS.rate_limited);
      seeOther(p.ctx, `/account/email/${id}?notice=${notice.key}`);
    }),
  );

  router.post(
    '/email/:id',
    form,
    signedIn(async (p, fields) => {
      const id = idParam(p.ctx);
      const done = await changes.complete(p.session, id, fields, who(p));
      if (done.ok) return seeOther(p.ctx, '/account?notice=account.email_changed');
      await answered(p, id, done);
    }),
  );
}
