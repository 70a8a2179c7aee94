/**
 * The portal's factor pages, as thin routes on its router, asked of the registry: setting a
 * factor up (the password again, then the factor's own proof and page part), removing one, and
 * the devices of a factor an account holds several of (the DÁP app's phones, WebAuthn keys).
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Deps } from '../deps.ts';
import { NotFound } from '../errors.ts';
import { DEVICE_WORDS, type DeviceWords } from '../factors/capabilities.ts';
import type { Notice } from '../factors/factor.ts';
import { REFUSAL_STATUS } from '../http/refusals.ts';
import { type PortalKit, type SignedInPage, enrolledNotice, mailedNotice } from './kit.ts';

export function factorRoutes(router: Router, kit: PortalKit, deps: Deps): void {
  const { form, signedIn, render, seeOther, idParam, text, who, refusedStatus } = kit;
  const { account } = deps;
  const factorParam = (ctx: Context): string => {
    const factor = ctx.params['factor'];
    if (typeof factor !== 'string' || !deps.factors.with(factor, 'enroll')) throw new NotFound();
    return factor;
  };
  /** The portal's setup words of a factor (its button and its dialog's heading). */
  const wordsOf = (factor: string) => deps.factors.with(factor, 'enroll')!.enroll.words;
  /** Setting up a factor the account has moves it ("Beállítás másik eszközre"), unless an account holds several. */
  const moving = (p: SignedInPage, factor: string): boolean => p.session.account.factorKinds.includes(factor) && !deps.factors.get(factor)?.removal?.devices;
  const setUpTitle = (factor: string, move: boolean): string => (move ? 'setup.move' : `setup.${factor}`);
  /** The setup ran out (or was never this session's): back to its start, which says so. */
  const setUpExpired = (p: SignedInPage, factor: string): void => seeOther(p.ctx, `/account/setup/${factor}?expired=1`);


  // ---- setting a factor up: the password again, then the factor's own proof

  router.get(
    '/setup/:factor',
    signedIn(async (p) => {
      const factor = factorParam(p.ctx);
      const notice = p.ctx.query['expired'] === '1' ? { key: 'enroll.expired', error: true } : null;
      const move = moving(p, factor);
      render(p, 'account/setup-start', setUpTitle(factor, move), { factor, words: wordsOf(factor), notice, moving: move });
    }),
  );

  router.post(
    '/setup/:factor',
    form,
    signedIn(async (p, fields) => {
      const factor = factorParam(p.ctx);
      const begun = await account.setUp.begin(p.session, factor, text(fields, 'password'), who(p));
      if (!begun.ok) {
        const move = moving(p, factor);
        return render(p, 'account/setup-start', setUpTitle(factor, move), { factor, words: wordsOf(factor), notice: begun.notice, moving: move }, REFUSAL_STATUS[begun.refusal]);
      }
      // An account with a second factor proves one first; then the new factor's own setup.
      seeOther(p.ctx, 'proofId' in begun ? `/account/setup/${factor}/proof/${begun.proofId}` : `/account/setup/${factor}/${begun.enrollmentId}`);
    }),
  );

  // ---- the proof of a factor the account has, before another is set up (setup-proof.ts)

  async function renderProof(p: SignedInPage, factor: string, id: string, notice: Notice | null, status = 200): Promise<void> {
    const proof = await account.setUp.page(p.session, factor, id, p.lang);
    if (!proof) return setUpExpired(p, factor);
    const move = moving(p, factor);
    const { view, others, canResend } = proof;
    render(p, 'account/setup-proof', setUpTitle(factor, move), { factor, id, moving: move, proof: proof.factor, view: view.data, proofTemplate: view.template, others, canResend, notice: notice ?? view.notice ?? null }, status, true);
  }

  const showProof = signedIn(async (p) => {
    await renderProof(p, factorParam(p.ctx), idParam(p.ctx), mailedNotice(p.ctx));
  });
  // A refused answer is said on a GET of the address it was posted to (the portal's post/redirect/get).
  for (const step of ['', '/factor', '/resend']) router.get(`/setup/:factor/proof/:id${step}`, showProof);

  router.post(
    '/setup/:factor/proof/:id',
    form,
    signedIn(async (p, fields) => {
      const factor = factorParam(p.ctx);
      const id = idParam(p.ctx);
      const proved = await account.setUp.prove(p.session, factor, id, fields, who(p));
      if (proved.ok) return seeOther(p.ctx, `/account/setup/${factor}/${proved.enrollmentId}`);
      if (proved.refusal === 'expired') return setUpExpired(p, factor);
      return renderProof(p, factor, id, proved.notice, refusedStatus(proved));
    }),
  );

  router.post(
    '/setup/:factor/proof/:id/factor',
    form,
    signedIn(async (p, fields) => {
      const factor = factorParam(p.ctx);
      const id = idParam(p.ctx);
      const switched = await account.setUp.switchProof(p.session, factor, id, fields['factor'], who(p));
      if (switched.ok) return seeOther(p.ctx, `/account/setup/${factor}/proof/${id}`);
      if (switched.refusal === 'expired') return setUpExpired(p, factor);
      return renderProof(p, factor, id, switched.notice, refusedStatus(switched));
    }),
  );

  router.post(
    '/setup/:factor/proof/:id/resend',
    form,
    signedIn(async (p) => {
      const factor = factorParam(p.ctx);
      const id = idParam(p.ctx);
      const notice = await account.setUp.resend(p.session, factor, id, who(p));
      if (!notice) return setUpExpired(p, factor);
      if (notice.error) return renderProof(p, factor, id, notice, REFUSAL_STATUS.rate_limited);
      seeOther(p.ctx, `/account/setup/${factor}/proof/${id}?notice=${notice.key}`);
    }),
  );

  async function renderSetUp(p: SignedInPage, factor: string, id: string, notice: Notice | null, status = 200): Promise<void> {
    const shown = await account.setUpPage(p.session, id, p.lang);
    if (!shown || shown.factor.id !== factor) return setUpExpired(p, factor);
    const move = moving(p, factor);
    render(p, 'account/setup', setUpTitle(factor, move), { factor, words: wordsOf(factor), id, moving: move, view: shown.view.data, enrollTemplate: shown.view.template, canResend: shown.canResend, notice: notice ?? shown.view.notice ?? null }, status, true);
  }

  router.get(
    '/setup/:factor/:id',
    signedIn(async (p) => {
      await renderSetUp(p, factorParam(p.ctx), idParam(p.ctx), mailedNotice(p.ctx));
    }),
  );

  router.post(
    '/setup/:factor/:id',
    form,
    signedIn(async (p, fields) => {
      const factor = factorParam(p.ctx);
      const id = idParam(p.ctx);
      const confirmed = await account.confirmSetUp(p.session, id, fields, who(p));
      if (!confirmed.ok) {
        if (confirmed.refusal === 'done') return seeOther(p.ctx, `/account?notice=${enrolledNotice(factor, true)}`);
        if (confirmed.refusal === 'expired') return setUpExpired(p, factor);
        return renderSetUp(p, factor, id, confirmed.notice, REFUSAL_STATUS[confirmed.refusal]);
      }
      // The app's törlőkód is shown now, once: it is stored only as a hash.
      if (confirmed.shownOnce?.['recoveryCode']) {
        return render(p, 'recovery-code', 'recovery.title', { recoveryCode: confirmed.shownOnce['recoveryCode'], next: `/account?notice=${enrolledNotice(factor)}` });
      }
      seeOther(p.ctx, `/account?notice=${enrolledNotice(factor)}`);
    }),
  );

  router.post(
    '/setup/:factor/:id/resend',
    form,
    signedIn(async (p) => {
      const factor = factorParam(p.ctx);
      const id = idParam(p.ctx);
      const notice = await account.resendSetUp(p.session, id, who(p));
      if (!notice) return setUpExpired(p, factor);
      if (notice.error) return renderSetUp(p, factor, id, notice, REFUSAL_STATUS.rate_limited);
      seeOther(p.ctx, `/account/setup/${factor}/${id}?notice=${notice.key}`);
    }),
  );

  // ---- removing a factor

  router.get(
    '/remove/:factor',
    signedIn(async (p) => render(p, 'account/remove', 'account.remove_title', { factor: factorParam(p.ctx) })),
  );

  router.post(
    '/remove/:factor',
    form,
    signedIn(async (p, fields) => {
      const factor = factorParam(p.ctx);
      const done = await account.removeFactor(p.session, factor, text(fields, 'password'), who(p));
      if (!done.ok) return render(p, 'account/remove', 'account.remove_title', { factor, notice: done.notice }, refusedStatus(done));
      seeOther(p.ctx, '/account?notice=account.factor_removed');
    }),
  );

  // ---- the devices of a factor an account holds several of (the DÁP app's phones, WebAuthn
  // keys): listed, removed one by one (the password again), in the factor's own words

  const deviceWords = (factorId: string): DeviceWords => deps.factors.get(factorId)?.removal?.devices?.words ?? DEVICE_WORDS;
  const deviceFactor = (ctx: Context): string => {
    const factor = ctx.params['factor'];
    if (typeof factor !== 'string' || !deps.factors.get(factor)?.removal?.devices) throw new NotFound();
    return factor;
  };
  const devicesPage = async (p: SignedInPage, factor: string, notice: Notice | null = null, status = 200) => {
    const words = deviceWords(factor);
    render(p, 'account/devices', words.title, { factor, words, devices: (await account.devices(p.session, factor)) ?? [], notice }, status);
  };

  // The address the phones' page had before another factor had devices too.
  const firstDevices = deps.factors.all().find((f) => f.removal?.devices)?.id ?? '';
  router.get(
    '/devices',
    signedIn(async (p) => seeOther(p.ctx, `/account/devices/${firstDevices}`)),
  );

  router.get(
    '/devices/:factor',
    signedIn((p) => devicesPage(p, deviceFactor(p.ctx))),
  );

  router.post(
    '/devices/:factor/:id/remove',
    form,
    signedIn(async (p, fields) => {
      const factor = deviceFactor(p.ctx);
      const done = await account.removeDevice(p.session, factor, idParam(p.ctx), text(fields, 'password'), who(p));
      if (!done.ok) return devicesPage(p, factor, done.notice, refusedStatus(done));
      seeOther(p.ctx, `/account?notice=${deviceWords(factor).removed}`);
    }),
  );
}
