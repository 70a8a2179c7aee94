/** `kapu keys …`: signing-key rotation and encryption-key rotation. */
import { reencrypt } from '../admin/keys.ts';
import { keyStates, rotateSigningKeys } from '../oidc/keys.ts';
import { integer, parse } from './args.ts';
import { type Command, isoTime } from './context.ts';

const list: Command = {
  name: 'keys list',
  synopsis: '[--json]',
  summary: 'list signing keys and their state: next (published, not signing yet), current, previous (published), retired',
  async run(cli, args) {
    parse(this.name, args, {});
    await cli.withDeps(async (deps) => {
      const now = deps.clock.now();
      const keys = keyStates(await deps.repos.signingKeys.all(), now).map(({ key, state, until }) => ({
        kid: key.kid,
        alg: key.alg,
        state,
        published: state !== 'retired',
        signs: state === 'current',
        createdAt: key.created_at,
        signsFrom: key.signs_from,
        // next: when it starts signing; previous: when it leaves JWKS.
        until,
      }));
      cli.result(keys, () => {
        if (keys.length === 0) return cli.out('no signing keys yet (the first start of kapu makes them)');
        cli.table(
          ['KID', 'ALG', 'STATE', 'CREATED', 'SIGNS FROM', 'UNTIL'],
          keys.map((k) => [k.kid, k.alg, k.state, isoTime(k.createdAt), isoTime(k.signsFrom), k.until ? isoTime(k.until) : '-']),
        );
      });
    });
  },
};

const rotate: Command = {
  name: 'keys rotate',
  synopsis: '[--delay-hours N]   (default SIGNING_KEY_DELAY_HOURS, 24)',
  summary: 'publish the next signing keys now; they sign after the delay; the old ones stay published until their tokens expired',
  async run(cli, args) {
    const { values } = parse(this.name, args, { 'delay-hours': { type: 'string' } });
    const hours = integer(this.name, values['delay-hours'], '--delay-hours', 1, 720, cli.config.signingKeyDelayHours);
    cli.requirePersistentKeys();
    await cli.withDeps(async (deps) => {
      const { rotated, pending } = await rotateSigningKeys(deps.uow, deps.box, deps.clock, hours * 3600);
      cli.result({ rotated, pending: pending.map((k) => ({ kid: k.kid, alg: k.alg, signsFrom: k.signs_from })) }, () => {
        if (rotated.length === 0) {
          for (const k of pending) cli.out(`a rotation is already pending: ${k.alg} key ${k.kid} signs from ${isoTime(k.signs_from)}`);
          return;
        }
        for (const k of rotated) cli.out(`${k.alg} key ${k.kid} published now; signs from ${isoTime(k.signsFrom)}`);
        cli.out('Every replica publishes the new keys at once. The keys they replace stay published until the tokens they signed have expired.');
      });
      if (rotated.length === 0) cli.exitCode = 1;
    });
  },
};

const reencryptCommand: Command = {
  name: 'keys reencrypt',
  synopsis: '',
  summary: 'seal every stored secret with the first ENCRYPTION_KEYS key (after putting a new key first)',
  async run(cli, args) {
    parse(this.name, args, {});
    cli.requirePersistentKeys();
    await cli.withDeps(async (deps) => {
      const { resealed, current } = await reencrypt(deps);
      cli.result({ resealed, current, key: deps.box.currentKeyId }, () => {
        cli.out(`re-sealed ${resealed} value(s) with key "${deps.box.currentKeyId}"; ${current} already current`);
        cli.out('older keys can now be removed from ENCRYPTION_KEYS');
      });
    });
  },
};

export const keysCommands: Command[] = [list, rotate, reencryptCommand];
