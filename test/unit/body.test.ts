/**
 * kapu's own request bodies are decoded strictly (issue 15, item 6): a form or a JSON body that
 * is not UTF-8 — raw or percent-encoded — is refused, never read with U+FFFD in its place.
 */
import { UnusableValue, decodeForm, decodeJson } from '../../src/http/body.ts';
import { BadInput } from '../../src/http/input-guard.ts';

const bytes = (...parts: Array<string | number[]>): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

describe('form bodies', () => {
  test('names and values are percent-decoded as UTF-8, with + as a space', () => {
    expect({ ...decodeForm(bytes('username=kov%C3%A1cs.anna&password=egy+k%C3%A9t%2B3&csrf=abc')) }).toEqual({ username: 'kovács.anna', password: 'egy két+3', csrf: 'abc' });
  });

  test('raw UTF-8 is read as it is (a client that does not percent-encode)', () => {
    expect({ ...decodeForm(Buffer.from('username=kovács&password=árvíztűrő', 'utf8')) }).toEqual({ username: 'kovács', password: 'árvíztűrő' });
  });

  test('an empty body, empty pairs and a name without a value', () => {
    expect({ ...decodeForm(bytes('')) }).toEqual({});
    expect({ ...decodeForm(bytes('&&csrf&code=&')) }).toEqual({ csrf: '', code: '' });
  });

  test('a name given twice keeps both values; brackets and dots are part of the name', () => {
    expect({ ...decodeForm(bytes('code=1&code=2&code=3&csrf[]=a&a.b=c')) }).toEqual({ code: ['1', '2', '3'], 'csrf[]': 'a', 'a.b': 'c' });
  });

  test('a name like __proto__ is a plain field, not the object’s prototype', () => {
    const form = decodeForm(bytes('__proto__=x&constructor=y'));
    expect(Object.getPrototypeOf(form)).toBeNull();
    expect(form['__proto__']).toBe('x');
    expect(form['constructor']).toBe('y');
  });

  test.each([
    ['a truncated sequence', 'username=%C3%28&password=x'],
    ['an encoded surrogate (CESU-8)', 'username=%ED%A0%80&password=x'],
    ['an overlong encoding', 'username=%C0%AF'],
    ['past U+10FFFF', 'username=%F4%90%80%80'],
    ['a sequence cut off at the end', 'username=%E2%82'],
    ['a lone continuation byte', 'password=%80'],
    ['a stray percent sign', 'username=100%'],
    ['bad percent-encoding in a name', '%FF=x'],
  ])('percent-encoding that is not UTF-8 is refused: %s', (_what, body) => {
    expect(() => decodeForm(bytes(body))).toThrow(BadInput);
  });

  test.each([
    ['0xFF', [0xff]],
    ['a truncated two-byte sequence', [0xc3, 0x28]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['an overlong slash', [0xc0, 0xaf]],
  ])('raw bytes that are not UTF-8 are refused: %s', (_what, raw) => {
    expect(() => decodeForm(bytes('username=', raw as number[], '&password=x'))).toThrow(BadInput);
  });

  test('a NUL, raw or encoded, in a name or a value is refused', () => {
    for (const body of ['username=a%00b', 'a%00=b', 'username=a\0b']) expect(() => decodeForm(bytes(body))).toThrow(BadInput);
  });

  test('U+FFFD that was really sent (encoded as UTF-8) is a character like any other', () => {
    expect(decodeForm(bytes('name=%EF%BF%BD'))['name']).toBe('\uFFFD');
  });
});

describe('JSON bodies', () => {
  test('UTF-8 JSON, escapes and surrogate pairs included', () => {
    expect(decodeJson(Buffer.from('{"name":"Anna telefonja ☎","emoji":"\\ud83d\\udcf1","n":1}', 'utf8'))).toEqual({ name: 'Anna telefonja ☎', emoji: '📱', n: 1 });
  });

  test('bytes that are not UTF-8 are no JSON, not a string with U+FFFD in it', () => {
    for (const raw of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80]]) {
      expect(() => decodeJson(bytes('{"name":"', raw, '"}'))).toThrow(BadInput);
    }
  });

  test('a lone surrogate or a NUL escaped inside a string is refused as an unusable value; broken JSON as not JSON', () => {
    for (const text of ['{"name":"\\ud800"}', '{"name":"a\\udc00"}', '{"pin":"12\\u00003"}', '{"\\u0000":1}', '{"a":["x",{"b":"\\ud83d"}]}']) {
      expect(() => decodeJson(bytes(text))).toThrow(UnusableValue);
    }
    expect(() => decodeJson(bytes('{"token":'))).toThrow(BadInput);
    expect(() => decodeJson(bytes('{"token":'))).not.toThrow(UnusableValue);
  });
});
