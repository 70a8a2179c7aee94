/**
 * Pages and mails in two languages (README "Languages"): which language a request gets, the
 * words and dates of each, and templates that escape what people typed.
 */
import { Views, pickLang } from '../../src/views.ts';

describe('picking a language', () => {
  test('the first supported one of the candidates, each a list as ui_locales or Accept-Language give it', () => {
    expect(pickLang(undefined, 'de en-GB', 'hu')).toBe('en');
    expect(pickLang('fr-CA,de;q=0.8')).toBeUndefined();
    expect(pickLang(null, 'EN_us')).toBe('en');
    expect(pickLang('hu-HU')).toBe('hu');
  });
});

describe('the words of a page', () => {
  const views = new Views();

  test('are filled in from their message, in the language asked for', () => {
    const hu = views.translator('hu');
    const en = views.translator('en');
    expect(hu('method.title')).not.toBe(en('method.title'));
    expect(() => hu('nincs.ilyen.kulcs')).toThrow(/missing message/);
  });

  test('dates are written the way each language writes them, in Hungarian time', () => {
    const midnight = new Date('2027-01-15T23:30:00Z'); // already 16 January in Budapest
    expect(views.date('hu')(midnight)).toBe('2027. január 16.');
    expect(views.date('en')(midnight)).toBe('16 January 2027');
    expect(views.dateTime('hu')(midnight)).toMatch(/^2027\. január 16\. 0?0:30$/);
  });

  test('what a person typed is escaped on the page, even inside a message', () => {
    const html = views.render('_notice', 'hu', { notice: { key: 'password.chosen', error: true, vars: { method: '<script>alert(1)</script>' } } });
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});
