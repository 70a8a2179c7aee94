/**
 * "DÁP mobilalkalmazás" (SPEC §8), kapu's open form: the citizen's phone holds an ES256 key
 * that never leaves it and a PIN that kapu keeps only as an argon2id hash, and approves a
 * sign-in that a browser shows. The factor is out-of-band: `begin` makes a challenge (a QR
 * code with a link to it, and a 3-digit number for the citizen to match on the phone), the
 * phone decides through the device API (src/factors/dap/devices.ts, /api/device/v1), and the
 * waiting page learns the outcome through `status` (a read, no throttle) and collects an
 * approval with `verify` — once, and only on the sign-in (interaction) that asked for it.
 *
 * It is passwordless: chosen on the method chooser it needs no password (the device key names
 * the account, the PIN unlocks it: `amr` swk + pin + mfa). After a password (an account that
 * has the app, another method chosen) it works as a second factor, bound to that account.
 *
 * Setting it up: `enroll.begin` makes a one-time enrollment token (kept sealed by the
 * enrollment, ten minutes, single use); the setup page shows it as a link and a QR code; the
 * phone registers its key and PIN with it; `enroll.confirm` sees that the phone did.
 */
import QRCode from 'qrcode';
import type { Repos } from '../../db/repositories/index.ts';
import { DAP_FACTOR_ID, DAP_REPOSITORY } from './repository.ts';
import { type Clock, type Random, digits } from '../../clock.ts';
import type {
  ChallengeStatus,
  Collected,
  Device,
  EnrollContext,
  Enrollable,
  EnrollmentStart,
  Factor,
  FactorView,
  FlowContext,
  FormFields,
  Notice,
  OutOfBandProof,
  Removable,
} from '../factor.ts';
import type { FactorModule } from '../module.ts';
import { appRoutes } from './app.ts';
import { DeviceService } from './devices.ts';
import { deviceApiRoutes } from './routes.ts';

/** How long the phone has to approve a challenge (and the browser to collect the approval). */
export const CHALLENGE_SECONDS = 120;
/** Where the reference app lives; its links carry their token in the fragment (never sent to a server). */
export const APP_PATH = '/app/';

export interface DapDeps {
  clock: Clock;
  random: Random;
  /** kapu's public origin: the links and what a device signs name it. */
  origin: string;
}

type Continue = Record<string, never>;

/** The link the phone opens for an enrollment (also drawn as a QR code). */
export function enrollLink(origin: string, enrollmentId: string, secret: string): string {
  return `${origin}${APP_PATH}#enroll=${enrollmentId}.${secret}`;
}

/** The link the phone opens for a sign-in's challenge. */
export function challengeLink(origin: string, challengeId: string): string {
  return `${origin}${APP_PATH}#challenge=${challengeId}`;
}

export class DapFactor implements Factor<Continue> {
  readonly id = DAP_FACTOR_ID;
  /** RFC 8176: "swk" (a software-secured key), "pin"; the core adds "mfa". */
  readonly amr = ['swk', 'pin'];
  readonly labelKey = 'factor.dap';
  /** Its `acr` is ACR_APP (substantial unless an operator maps it higher). */
  readonly level = 'app' as const;
  readonly #deps: DapDeps;

  constructor(deps: DapDeps) {
    this.#deps = deps;
  }

  /** The waiting page's "Tovább" carries nothing typed: the answer was given on the phone. */
  parse(_form: FormFields): Continue {
    return {};
  }

  /**
   * The same challenge after a password (bound to that account) or alone, chosen on the method
   * chooser (the device key names the account, the PIN unlocks it): one proof serves both.
   */
  readonly signIn: OutOfBandProof = this.#proof();
  readonly passwordless: OutOfBandProof<FlowContext> = this.#proof();

  #proof(): OutOfBandProof<FlowContext> {
    return {
      answered: 'out_of_band',
      begin: async (ctx) => {
        await this.#challenge(ctx);
        return null;
      },
      /** A fresh QR code and number (the old one expired or was refused). */
      resend: async (ctx) => {
        await this.#challenge(ctx);
        return { key: 'dap.new_challenge' };
      },
      view: (ctx) => this.#view(ctx),
      status: async (ctx) => this.#statusOf(await ctx.repos.of(DAP_REPOSITORY).latest(ctx.flowId)),
      collect: (ctx) => this.#collect(ctx),
    };
  }

  async #view(ctx: FlowContext): Promise<FactorView> {
    const latest = await ctx.repos.of(DAP_REPOSITORY).latest(ctx.flowId);
    const status = this.#statusOf(latest);
    // `alone`: chosen on the method chooser, so the citizen may go back to it.
    const data: Record<string, unknown> = { status, uid: ctx.flowId, alone: ctx.account === null };
    if (latest && status === 'pending') {
      const link = challengeLink(this.#deps.origin, latest.id);
      Object.assign(data, { link, qr: await qrDataUrl(link), number: latest.number, minutes: CHALLENGE_SECONDS / 60 });
    }
    const notice: Notice | undefined =
      status === 'refused' ? { key: 'dap.refused', error: true } : status === 'expired' ? { key: 'dap.expired', error: true } : status === 'approved' ? { key: 'dap.approved' } : undefined;
    return { template: '@dap/sign-in', data, scripts: true, ...(notice && { notice }) };
  }

  async #collect(ctx: FlowContext): Promise<Collected> {
    const now = this.#deps.clock.now();
    const collected = await ctx.repos.of(DAP_REPOSITORY).collect(ctx.flowId, ctx.account?.id ?? null, new Date(now.getTime() - CHALLENGE_SECONDS * 1000));
    if (!collected) {
      const status = this.#statusOf(await ctx.repos.of(DAP_REPOSITORY).latest(ctx.flowId));
      if (status === 'pending') return { status, notice: { key: 'dap.waiting' } };
      return status === 'expired' ? { status, notice: { key: 'dap.expired' } } : { status: 'refused', notice: { key: 'dap.refused' } };
    }
    await ctx.repos.of(DAP_REPOSITORY).touchFactor(collected.accountId, now);
    return { status: 'approved', accountId: collected.accountId };
  }

  readonly enroll: Enrollable<Continue> = {
    words: { start: 'setup.next', dialog: 'setup.dap_dialog' },
    begin: async (): Promise<EnrollmentStart> => ({ keep: this.#deps.random.bytes(32).toString('base64url') }),
    view: async (ctx: EnrollContext): Promise<FactorView> => {
      if (!ctx.kept) return { template: '@dap/enroll', data: {} };
      const link = enrollLink(this.#deps.origin, ctx.flowId, ctx.kept);
      const device = await ctx.repos.of(DAP_REPOSITORY).deviceOfEnrollment(ctx.flowId, ctx.account.id);
      return { template: '@dap/enroll', data: { link, qr: await qrDataUrl(link), done: device !== undefined, device: device?.name ?? null } };
    },
    /** The phone registered its key and PIN with this enrollment's link. */
    confirm: async (ctx: EnrollContext) => {
      const device = await ctx.repos.of(DAP_REPOSITORY).deviceOfEnrollment(ctx.flowId, ctx.account.id);
      return device ? { ok: true } : { ok: false, notice: { key: 'dap.enroll_waiting' } };
    },
  };

  /**
   * Removes every device of the account (their keys and PIN hashes); what they approved and
   * what still waits for one of them is refused at once. One phone at a time, too.
   */
  readonly removal: Removable = {
    remove: async (ctx) => (await ctx.repos.of(DAP_REPOSITORY).removeDevices(ctx.account.id)) > 0,
    devices: {
      list: async (repos, accountId): Promise<Device[]> =>
        (await repos.of(DAP_REPOSITORY).devices(accountId)).map((d) => ({ id: d.id, name: d.name, createdAt: d.created_at, lastUsedAt: d.last_used_at, lockedAt: d.locked_at })),
      removeOne: async (ctx, deviceId) => {
        const device = (await this.removal.devices!.list(ctx.repos, ctx.account.id)).find((d) => d.id === deviceId);
        return device && (await ctx.repos.of(DAP_REPOSITORY).removeDevices(ctx.account.id, deviceId)) > 0 ? device : undefined;
      },
      removedMail: 'mail.dap_removed',
    },
  };

  // No `operatorEnroll`: a device key is made on the phone, never by an operator.

  /** Challenges past their time (and the hour the caps look back). */
  maintain(repos: Repos, expiredBefore: Date): Promise<number> {
    return repos.of(DAP_REPOSITORY).deleteExpired(expiredBefore);
  }

  async #challenge(ctx: FlowContext): Promise<void> {
    const { clock, random } = this.#deps;
    const now = clock.now();
    const previous = (await ctx.repos.of(DAP_REPOSITORY).latest(ctx.flowId))?.number;
    // Like the emailed code's session tag: never the number the last QR code of this sign-in had.
    const used = new Set(previous ? [previous] : []);
    const fresh = (): string => {
      for (;;) {
        const n = digits(random, 3);
        if (!used.has(n)) {
          used.add(n);
          return n;
        }
      }
    };
    const number = fresh();
    await ctx.repos.of(DAP_REPOSITORY).createChallenge({
      id: random.uuid(),
      flowId: ctx.flowId,
      accountId: ctx.account?.id ?? null,
      nonce: random.bytes(32).toString('base64url'),
      number,
      decoys: [fresh(), fresh()],
      client: ctx.asking?.client ?? null,
      browser: ctx.asking?.browser ?? null,
      ip: ctx.asking?.ip ?? null,
      now,
      expiresAt: new Date(now.getTime() + CHALLENGE_SECONDS * 1000),
    });
  }

  #statusOf(latest: { status: string; expires_at: Date } | undefined): ChallengeStatus {
    if (!latest || latest.status === 'superseded') return 'expired';
    if (latest.status === 'approved' || latest.status === 'used') return 'approved';
    if (latest.status === 'refused') return 'refused';
    return latest.expires_at > this.#deps.clock.now() ? 'pending' : 'expired';
  }
}

async function qrDataUrl(link: string): Promise<string> {
  // Drawn by kapu (pages load nothing from elsewhere).
  const svg = await QRCode.toString(link, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

export const dap: FactorModule = {
  id: DAP_FACTOR_ID,
  folder: new URL('./', import.meta.url),
  create: (deps) => new DapFactor(deps),
  // The phone's side: the device API and the reference app.
  routes: (deps) => [deviceApiRoutes(new DeviceService(deps)), appRoutes()],
};
