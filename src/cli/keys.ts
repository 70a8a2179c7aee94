/** `kapu keys …`: encryption key rotation. */
import { reencrypt } from '../admin/keys.ts';
import { parse } from './args.ts';
import type { Command } from './context.ts';

const reencryptCommand: Command = {
  name: 'keys reencrypt',
  synopsis: '',
  summary: 'seal every stored secret with the first ENCRYPTION_KEYS key (after putting a new key first)',
  async run(cli, args) {
    parse(this.name, args, {});
    cli.requirePersistentKeys();
    await cli.withDeps(async (deps) => {
      const { resealed, current } = await reencrypt(deps);
      cli.out(`re-sealed ${resealed} value(s) with key "${deps.box.currentKeyId}"; ${current} already current`);
      cli.out('older keys can now be removed from ENCRYPTION_KEYS');
    });
  },
};

export const keysCommands: Command[] = [reencryptCommand];
