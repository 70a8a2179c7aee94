// oidc-provider's key store initialiser (see src/oidc/keys.ts): not part of its typed API.
declare module 'oidc-provider/lib/helpers/initialize_keystore.js' {
  import type Provider from 'oidc-provider';
  import type { JWK } from 'oidc-provider';
  export default function initializeKeystore(this: Provider, jwks: { keys: JWK[] }): void;
}
