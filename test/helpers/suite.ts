/**
 * The usual setting of an end-to-end suite: a mail sink, a kapu that sends to it, and one
 * registered RP, started before the suite's tests and stopped after them.
 */
import type * as oidc from 'openid-client';
import type { NewClientInput } from '../../src/admin/clients.ts';
import { type TestKapu, startTestKapu } from './kapu.ts';
import { MailSink } from './mail-sink.ts';

export interface Suite {
  kapu: TestKapu;
  mail: MailSink;
  rp: oidc.Configuration;
}

/**
 * Registers the suite's beforeAll and afterAll; `use` gets what was started (assign it to the
 * suite's own variables: `kapuWithMail((s) => ({ kapu, mail, rp } = s))`).
 */
export function kapuWithMail(use: (started: Suite) => void, options: { env?: Record<string, string>; client?: Partial<NewClientInput> } = {}): void {
  let kapu: TestKapu | undefined;
  let mail: MailSink | undefined;
  beforeAll(async () => {
    mail = await new MailSink().start();
    kapu = await startTestKapu({ env: { SMTP_URL: mail.url, ...options.env } });
    const { rp } = await kapu.client(options.client);
    use({ kapu, mail, rp });
  });
  afterAll(async () => {
    await kapu?.close();
    await mail?.stop();
  });
}
