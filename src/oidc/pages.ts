/** kapu's own pages for what oidc-provider renders: errors, logout confirmation, logout done. */
import type { KoaContextWithOIDC, ErrorOut } from 'oidc-provider';
import type { Deps } from '../deps.ts';
import { originOf, renderPage, resolveLang } from '../http/page.ts';

type PageDeps = Pick<Deps, 'views' | 'log'>;

export function renderProviderError(deps: PageDeps) {
  return async (ctx: KoaContextWithOIDC, out: ErrorOut, error: Error) => {
    const lang = resolveLang(ctx, ctx.oidc?.params?.['ui_locales'] as string | undefined);
    const expired = out.error === 'invalid_request' && /interaction|session/i.test(out.error_description ?? '');
    deps.log.info({ reqId: ctx.state['reqId'], error: out.error, description: out.error_description, errName: error.name }, 'provider error page');
    renderPage(
      ctx,
      deps.views,
      'error',
      {
        titleKey: 'error.title',
        messageKey: expired ? 'error.session_expired' : 'error.generic',
        code: out.error,
        // The library's own description is English protocol text, useful to RP developers.
        description: out.error_description,
      },
      { lang, status: ctx.status || 400 },
    );
  };
}

export function renderLogout(deps: PageDeps) {
  return async (ctx: KoaContextWithOIDC, form: string) => {
    const lang = resolveLang(ctx);
    // `form` is the library's hidden logout form (with its xsrf token); kapu's buttons submit it.
    renderPage(ctx, deps.views, 'logout', { titleKey: 'logout.title', form }, { lang, formTargets: ((ctx.oidc.client?.postLogoutRedirectUris ?? []) as string[]).flatMap(originOf) });
  };
}

export function renderLogoutSuccess(deps: PageDeps) {
  return async (ctx: KoaContextWithOIDC) => {
    const lang = resolveLang(ctx);
    renderPage(ctx, deps.views, 'logout-done', { titleKey: 'logout.done_title', client: ctx.oidc.client?.clientName ?? null }, { lang });
  };
}
