/**
 * Notice mails (something happened to the account) as composed, no mail server needed: what to
 * do if it was not the citizen — in the mail's own words where the usual advice would not help —
 * and the help desk when the operator names one; the same words in the text and HTML parts.
 */
import { FACTORS } from '../../src/factors/index.ts';
import { randomBytes } from 'node:crypto';
import { parse } from 'node-html-parser';
import { Mailer } from '../../src/mail/mailer.ts';
import { SecretBox } from '../../src/security/secret-box.ts';
import { Views } from '../../src/views.ts';

const ISSUER = 'https://belepes.example.hu';
const box = new SecretBox([{ id: 't', key: randomBytes(32) }]);
const fold = (s: string) => s.replace(/\s+/g, ' ').trim();
const shown = (html: string) => fold(parse(html).querySelector('body')!.text);

function mailer(contactUrl: string | null = null): Mailer {
  return new Mailer(box, new Views({ operator: 'Minta Hivatal', helpUrl: null, privacyUrl: null, contactUrl }, FACTORS), ISSUER);
}

describe('a notice mail', () => {
  test('a changed password: if it was not the citizen, the way back is a reset (with its address) and the help desk — not "change your password"', () => {
    const mail = mailer().notice('anna@example.hu', 'hu', { key: 'mail.password_changed', name: 'Kovács Anna' });
    const lines = mail.text.split('\n');
    expect(lines).toContain(
      'Ha nem Ön változtatta meg, valaki más ismeri a régi jelszavát, és Ön most a régivel nem tud belépni. Azonnal állítson be új jelszót az „Elfelejtett jelszó” oldalon (https://belepes.example.hu/account/reset), és forduljon az ügyfélszolgálathoz.',
    );
    expect(mail.text).not.toContain('változtassa meg a jelszavát');
    expect(shown(mail.html)).toBe(fold(mail.text));
  });

  test('a mail without words of its own keeps the usual advice', () => {
    const mail = mailer().notice('anna@example.hu', 'en', { key: 'mail.factor_removed', name: 'Anna Kovács', vars: { factor: 'x' } });
    expect(mail.text.split('\n')).toContain('If it was not you, change your password at once and contact the help desk.');
  });

  test('the help desk is named when the operator gave CONTACT_URL (a mailto: address as the address alone)', () => {
    expect(mailer('mailto:ugyfel@example.hu').notice('anna@example.hu', 'hu', { key: 'mail.password_reset', name: 'Kovács Anna' }).text.split('\n')).toContain('Ügyfélszolgálat: ugyfel@example.hu');
    const page = mailer('https://example.hu/kapcsolat').notice('anna@example.hu', 'en', { key: 'mail.password_reset', name: 'Anna Kovács' });
    expect(page.text.split('\n')).toContain('Help desk: https://example.hu/kapcsolat');
    expect(shown(page.html)).toBe(fold(page.text));
    expect(mailer().notice('anna@example.hu', 'hu', { key: 'mail.password_reset', name: 'Kovács Anna' }).text).not.toContain('Ügyfélszolgálat:');
  });
});
