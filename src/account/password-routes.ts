/**
 * A new password, as thin routes on the portal's router: the signed-in citizen's change
 * (src/auth/password-change.ts: the current password, then any one of the account's proofs)
 * and a forgotten password (src/auth/recovery.ts: a code to the account's address and any one of
 * its proofs, on pages that are the same for any username). Both end on one page, the new
 * password's, with each proof's part made with it (a challenge, bound to the request).
 */
import type Router from '@koa/router';
import type { Deps } from '../deps.ts';
import type { Notice } from '../factors/factor.ts';
import { rememberDevice } from '../http/cookies.ts';
import type { Page, PortalKit } from './kit.ts';

export function passwordRoutes(router: Router, kit: PortalKit, deps: Deps): void {
  const { form, signedIn, anyone, render, seeOther, idParam, text, who, refusedStatus, codeMinutes } = kit;
  const { account, recovery } = deps;

  router.get(
    '/password',
    signedIn(async (p) => render(p, 'account/password', 'account.password_title')),
  );

  router.post(
    '/password',
    form,
    signedIn(async (p, fields) => {
      const begun = await account.newPassword.begin(p.session, text(fields, 'current'), who(p));
      if (!begun.ok) return render(p, 'account/password', 'account.password_title', { notice: begun.notice }, refusedStatus(begun));
      seeOther(p.ctx, `/account/password/${begun.changeId}`);
    }),
  );

  async function renderNewPassword(p: Page, id: string, notice: Notice | null, status = 200, reset = false): Promise<void> {
    const title = reset ? 'account.reset_title' : 'account.password_title';
    // A refused form is said on the page's GET (render), which makes the parts and their challenges then.
    if (p.ctx.method === 'POST' && status >= 400) return render(p, 'account/password-new', title, { notice }, status);
    const change = reset || !p.session ? null : await account.newPassword.page(p.session, id, p.lang);
    if (!reset && !change) return seeOther(p.ctx, '/account/password');
    // A forgotten password's page asks for what any account might need: it tells nothing.
    const proofs = change?.proofs ?? (await recovery.resetProofs(id, p.lang));
    // The munkamenet-azonosító its code mail quotes (a forgotten password's shows one for any username).
    const tag = proofs.some((proof) => proof.byMailbox) ? recovery.resetTag(id) : null;
    render(p, 'account/password-new', title, { id, proofs, reset, tag, notice }, status, proofs.some((proof) => proof.scripts));
  }

  router.get(
    '/password/:id',
    signedIn(async (p) => renderNewPassword(p, idParam(p.ctx), null)),
  );

  router.post(
    '/password/:id',
    form,
    signedIn(async (p, fields) => {
      const id = idParam(p.ctx);
      const done = await account.newPassword.complete(id, fields, who(p), p.session);
      if (!done.ok) return renderNewPassword(p, id, done.notice, refusedStatus(done));
      seeOther(p.ctx, '/account?notice=account.password_changed');
    }),
  );

  router.get(
    '/reset',
    anyone(async (p) => render(p, 'account/reset', 'account.reset_title')),
  );

  router.post(
    '/reset',
    form,
    anyone(async (p, fields) => {
      const begun = await recovery.beginReset(fields['username'], who(p));
      if (!begun.ok) return render(p, 'account/reset', 'account.reset_title', { notice: begun.notice }, refusedStatus(begun));
      seeOther(p.ctx, `/account/reset/${begun.changeId}`);
    }),
  );

  router.get(
    '/reset/:id',
    anyone(async (p) => renderNewPassword(p, idParam(p.ctx), { key: 'account.reset_sent', vars: { minutes: codeMinutes } }, 200, true)),
  );

  router.post(
    '/reset/:id',
    form,
    anyone(async (p, fields) => {
      const id = idParam(p.ctx);
      const done = await recovery.completeReset(id, fields, who(p));
      if (!done.ok) return renderNewPassword(p, id, done.notice, refusedStatus(done), true);
      // The browser that proved the mailbox is the citizen's: strangers' failures never lock it out.
      rememberDevice(p.ctx, done.accountId, () => deps.random.bytes(18).toString('base64url'));
      seeOther(p.ctx, '/account?notice=account.password_reset');
    }),
  );
}
