/**
 * A phone with the DÁP app, for protocol tests: a real ES256 key pair (node:crypto, P-256),
 * signing exactly what the README's device protocol says, over kapu's real device API.
 */
import { type KeyObject, generateKeyPairSync, sign } from 'node:crypto';
import { decisionMessage, enrollMessage } from '../../src/factors/dap/protocol.ts';

export const API = '/api/device/v1';
export const PIN = '246810';

export interface ChallengeInfo {
  challengeId: string;
  origin: string;
  interaction: string;
  nonce: string;
  numbers: string[];
  client: string | null;
  browser: string | null;
  place: string | null;
  local: boolean;
  expiresAt: string;
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export class Phone {
  readonly #kapu: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: { kty: string; crv: string; x: string; y: string };
  deviceId: string | null = null;

  constructor(kapuUrl: string) {
    this.#kapu = new URL(kapuUrl).origin;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = privateKey;
    this.publicJwk = publicKey.export({ format: 'jwk' }) as Phone['publicJwk'];
  }

  get origin(): string {
    return this.#kapu;
  }

  /** An ES256 signature (r‖s, base64url) by this phone's key, as WebCrypto makes it. */
  sign(message: Buffer, key: KeyObject = this.privateKey): string {
    return sign('sha256', message, { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  }

  /** Enrolls with the link the portal shows (its token is in the fragment). */
  async enroll(link: string, options: { pin?: string; name?: string; signWith?: KeyObject } = {}): Promise<Answer> {
    const token = tokenOf(link, 'enroll');
    const answer = await this.call('POST', `${API}/devices`, {
      token,
      name: options.name ?? 'Teszt telefon',
      publicKey: this.publicJwk,
      pin: options.pin ?? PIN,
      signature: this.sign(enrollMessage(this.#kapu, token), options.signWith),
    });
    if (answer.status === 201) this.deviceId = (answer.body['device'] as { id: string }).id;
    return answer;
  }

  /** What the app shows for a sign-in's link (or challenge id). */
  async open(linkOrId: string): Promise<Answer<ChallengeInfo & { error?: string }>> {
    const id = linkOrId.includes('#') ? tokenOf(linkOrId, 'challenge') : linkOrId;
    return this.call('GET', `${API}/challenges/${id}?device=${this.deviceId}`) as unknown as Promise<Answer<ChallengeInfo & { error?: string }>>;
  }

  /** The approval for `info` with the tapped `number` and `pin`, signed (or with a body of one's own). */
  approvalBody(info: ChallengeInfo, number: string, pin = PIN, key?: KeyObject): Record<string, unknown> {
    const message = decisionMessage('approve', { origin: this.#kapu, challengeId: info.challengeId, nonce: info.nonce, interaction: info.interaction, number });
    return { deviceId: this.deviceId, number, pin, signature: this.sign(message, key) };
  }

  approve(challengeId: string, body: Record<string, unknown>): Promise<Answer> {
    return this.call('POST', `${API}/challenges/${challengeId}/approve`, body);
  }

  refuse(info: ChallengeInfo): Promise<Answer> {
    const message = decisionMessage('refuse', { origin: this.#kapu, challengeId: info.challengeId, nonce: info.nonce, interaction: info.interaction, number: '' });
    return this.call('POST', `${API}/challenges/${info.challengeId}/refuse`, { deviceId: this.deviceId, signature: this.sign(message) });
  }

  async call(method: string, path: string, body?: unknown, raw?: { body: string; type: string }): Promise<Answer> {
    const res = await fetch(new URL(path, this.#kapu), {
      method,
      headers: { accept: 'application/json', ...(body !== undefined || raw ? { 'content-type': raw?.type ?? 'application/json' } : {}) },
      ...(raw ? { body: raw.body } : body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown>, headers: res.headers };
  }
}

/** The value after `#name=` in an app link. */
export function tokenOf(link: string, name: string): string {
  const value = new URLSearchParams(new URL(link).hash.slice(1)).get(name);
  if (!value) throw new Error(`no ${name} in ${link}`);
  return value;
}
