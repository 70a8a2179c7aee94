/**
 * Chromium's virtual authenticator (the DevTools protocol's WebAuthn domain) through
 * playwright-core's CDP session: a platform authenticator built into the "device" (transport
 * `internal`, CTAP2) that keeps discoverable credentials and verifies its user, so a page's
 * `navigator.credentials.create/get` run for real, without a person touching anything.
 *
 * It belongs to one page (one CDP target); the credentials it holds can be read back, so a
 * test can see what kapu asked for (a discoverable credential, the RP ID).
 *
 * Note: WebAuthn refuses an IP address as an RP ID, so a kapu under test in a browser runs on
 * `localhost` (a secure context over plain HTTP), not on 127.0.0.1.
 */
import type { CDPSession, Page } from 'playwright-core';

export interface VirtualAuthenticatorOptions {
  /** The authenticator verifies its user (PIN, fingerprint): a passkey. Default true. */
  isUserVerified?: boolean;
  /** Default true. */
  hasUserVerification?: boolean;
}

export interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  userHandle?: string;
  signCount: number;
}

export class VirtualAuthenticator {
  readonly #session: CDPSession;
  readonly id: string;

  private constructor(session: CDPSession, id: string) {
    this.#session = session;
    this.id = id;
  }

  /** Adds an authenticator to `page`'s browser tab. */
  static async attach(page: Page, options: VirtualAuthenticatorOptions = {}): Promise<VirtualAuthenticator> {
    const session = await page.context().newCDPSession(page);
    await session.send('WebAuthn.enable', { enableUI: false });
    const { authenticatorId } = await session.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: options.hasUserVerification ?? true,
        isUserVerified: options.isUserVerified ?? true,
        automaticPresenceSimulation: true,
      },
    });
    return new VirtualAuthenticator(session, authenticatorId);
  }

  async credentials(): Promise<VirtualCredential[]> {
    const { credentials } = await this.#session.send('WebAuthn.getCredentials', { authenticatorId: this.id });
    return credentials;
  }

  /** Whether it verifies its user from now on (false: a ceremony asking UV fails). */
  async setUserVerified(isUserVerified: boolean): Promise<void> {
    await this.#session.send('WebAuthn.setUserVerified', { authenticatorId: this.id, isUserVerified });
  }

  async remove(): Promise<void> {
    await this.#session.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: this.id });
    await this.#session.detach();
  }
}
