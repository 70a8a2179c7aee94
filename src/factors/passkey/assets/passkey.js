// The passkey parts of kapu's pages: navigator.credentials on kapu's own forms, no library.
// A part is rendered with its button hidden and a sentence that says why it cannot be used; this
// script swaps them only where the browser has WebAuthn. Without the script, or without
// WebAuthn (window.PublicKeyCredential undefined), the sentence stays and there is no dead button.
/* global document, window, navigator, btoa, atob */
'use strict';

const fromB64url = (value) => {
  const base64 = value.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
};
const toB64url = (buffer) => {
  let binary = '';
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

/** The server's options (base64url strings) as the browser's API takes them (buffers). */
function publicKey(kind, options) {
  const descriptors = (list) => (list || []).map((d) => ({ ...d, id: fromB64url(d.id) }));
  if (kind === 'create') {
    return { ...options, challenge: fromB64url(options.challenge), user: { ...options.user, id: fromB64url(options.user.id) }, excludeCredentials: descriptors(options.excludeCredentials) };
  }
  return { ...options, challenge: fromB64url(options.challenge), allowCredentials: descriptors(options.allowCredentials) };
}

/** The credential as JSON (its toJSON() where the browser has it). */
function serialize(credential) {
  if (typeof credential.toJSON === 'function') return credential.toJSON();
  const r = credential.response;
  const response = { clientDataJSON: toB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toB64url(r.attestationObject);
    response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
  } else {
    response.authenticatorData = toB64url(r.authenticatorData);
    response.signature = toB64url(r.signature);
    if (r.userHandle) response.userHandle = toB64url(r.userHandle);
  }
  return { id: credential.id, rawId: toB64url(credential.rawId), type: credential.type, response, authenticatorAttachment: credential.authenticatorAttachment || undefined, clientExtensionResults: credential.getClientExtensionResults() };
}

const supported = typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;

for (const part of document.querySelectorAll('[data-passkey]')) {
  if (!supported) continue;
  for (const el of part.querySelectorAll('[data-passkey-unsupported]')) el.hidden = true;
  for (const el of part.querySelectorAll('[data-passkey-supported]')) el.hidden = false;
  const form = part.closest('form');
  const field = form && form.querySelector('input[name="credential"]');
  const button = part.querySelector('button[data-passkey-start]');
  const status = part.querySelector('[data-passkey-status]');
  const name = form && form.querySelector('input[name="name"]');
  if (!form || !field || !button) continue;
  // In the portal's setup dialog the name is the first thing to fill in.
  if (name && part.closest('dialog')) name.focus();
  // A new password's part (data-passkey-hold) is one proof among others: its button gets the
  // answer and the form holds it until the citizen sends it with the new password. Elsewhere
  // sending the form is using the passkey.
  const hold = part.hasAttribute('data-passkey-hold');
  let busy = false;
  const start = (event) => {
    // A name is asked before the authenticator: without one the form goes as it is and kapu says so.
    if (!hold && (field.value || (name && !name.value.trim()))) return;
    event.preventDefault();
    if (busy) return;
    busy = true;
    button.setAttribute('aria-disabled', 'true');
    if (status) status.textContent = part.dataset.waiting || '';
    const kind = part.dataset.passkey;
    const options = { publicKey: publicKey(kind, JSON.parse(part.dataset.passkeyOptions)) };
    const ceremony = kind === 'create' ? navigator.credentials.create(options) : navigator.credentials.get(options);
    ceremony
      .then((credential) => {
        field.value = JSON.stringify(serialize(credential));
        if (!hold) return form.submit();
        // The challenge answered is used once: the button's work is done.
        if (status) status.textContent = part.dataset.ready || '';
        button.hidden = true;
        const next = form.querySelector('input[type="password"]');
        if (next) next.focus();
      })
      .catch(() => {
        // Cancelled, timed out, or no passkey for kapu on this device: the citizen may try again.
        busy = false;
        button.removeAttribute('aria-disabled');
        if (status) status.textContent = part.dataset.cancelled || '';
        button.focus();
      });
  };
  if (hold) button.addEventListener('click', start);
  else form.addEventListener('submit', start);
}
