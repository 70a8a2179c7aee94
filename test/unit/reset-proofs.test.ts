/**
 * A new password's second proof (issue 19): with the mailed code (or the current password), any
 * one of the account's own proofs will do, so a citizen who lost one device still gets back in
 * with another; each wrong answer is told to the audit, and so is a form that answers none.
 * The rule alone, over two made-up proofs (no database).
 */
import type { FactorContext, FormFields, Verification, With } from '../../src/factors/factor.ts';
import { answersTo, proveAnyOne } from '../../src/auth/reset-proofs.ts';

/** A made-up proof whose answer is its field `<id>`, right when it is `right`; it counts its checks. */
function proof(id: string) {
  const checked: string[] = [];
  const factor = {
    id,
    proveReset: {
      template: `@${id}/reset`,
      parse: (form: FormFields) => (typeof form[id] === 'string' && form[id] !== '' ? form[id] : undefined),
      begin: async () => null,
      verify: async (_ctx: FactorContext, input: unknown): Promise<Verification> => {
        checked.push(String(input));
        return input === 'right' ? { ok: true } : { ok: false, notice: { key: `${id}.wrong` }, refusal: `${id}_refused` };
      },
    },
  } as unknown as With<'proveReset'>;
  return { factor, checked };
}

const ctx = {} as FactorContext;

async function prove(form: FormFields) {
  const app = proof('app');
  const key = proof('key');
  const failures: Array<[string | null, string | undefined]> = [];
  const result = await proveAnyOne(answersTo([app.factor, key.factor], form), ctx, async (factor, refusal) => void failures.push([factor, refusal]));
  return { result, failures, checked: { app: app.checked, key: key.checked } };
}

test('either proof alone proves it; the one not given is not asked', async () => {
  expect(await prove({ app: 'right' })).toEqual({ result: { ok: true }, failures: [], checked: { app: ['right'], key: [] } });
  expect(await prove({ key: 'right' })).toEqual({ result: { ok: true }, failures: [], checked: { app: [], key: ['right'] } });
});

test('a wrong answer to one and a right one to the other proves it, and the wrong one is audited with its reason', async () => {
  const { result, failures } = await prove({ app: 'wrong', key: 'right' });
  expect(result).toEqual({ ok: true });
  expect(failures).toEqual([['app', 'app_refused']]);
});

test('wrong answers to both are refused, each audited; the last one’s notice is said', async () => {
  const { result, failures } = await prove({ app: 'wrong', key: 'wrong' });
  expect(result).toEqual({ ok: false, notice: { key: 'key.wrong' }, refusal: 'key_refused' });
  expect(failures).toEqual([
    ['app', 'app_refused'],
    ['key', 'key_refused'],
  ]);
});

test('a form that answers neither is refused, as one failure that names no proof', async () => {
  const { result, failures, checked } = await prove({ app: '', key: '' });
  expect(result).toEqual({ ok: false, notice: { key: 'account.proof_missing' } });
  expect(failures).toEqual([[null, undefined]]);
  expect(checked).toEqual({ app: [], key: [] });
});
