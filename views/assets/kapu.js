// kapu's one script: progressive enhancement only. Every page works without it.
/* global document, window, setInterval, clearInterval */
'use strict';
// A code entry shown as a plain part of the page (<dialog open>) becomes a modal dialog,
// the way the real service asks for the emailed code in "a small window".
for (const dialog of document.querySelectorAll('dialog[data-modal][open]')) {
  if (typeof dialog.showModal !== 'function') continue;
  dialog.close();
  dialog.showModal();
  const field = dialog.querySelector('input:not([type=hidden]):not([readonly])');
  if (field) field.focus();
}

// A resend button that must wait: counted down in place, enabled when the wait is over. Without
// the script the page says the seconds as of loading, and a press too early is answered in words.
for (const form of document.querySelectorAll('form[data-countdown]')) {
  const button = form.querySelector('button');
  const hint = form.querySelector('#resend-wait');
  let left = Number(form.dataset.countdown);
  if (!button || !hint || !(left > 0)) continue;
  button.disabled = true;
  const timer = setInterval(() => {
    left -= 1;
    if (left > 0) {
      hint.textContent = form.dataset.wait.replace('{seconds}', String(left));
      return;
    }
    clearInterval(timer);
    button.disabled = false;
    hint.textContent = form.dataset.ready;
  }, 1000);
}

// An option that needs something of the browser (WebAuthn) is shown only where the
// browser has it; elsewhere the sentence beside it, saying why it is not offered, stays.
const HAS = { webauthn: typeof window.PublicKeyCredential === 'function' };
for (const option of document.querySelectorAll('[data-needs]')) {
  if (HAS[option.getAttribute('data-needs')]) option.hidden = false;
}
for (const missing of document.querySelectorAll('[data-needs-missing]')) {
  if (HAS[missing.getAttribute('data-needs-missing')]) missing.hidden = true;
}

// An out-of-band factor's waiting page (an approval on a phone): ask kapu where the answer
// stands (a read that costs no try) and go on as soon as it is decided. Without the script the
// citizen presses "Tovább".
for (const status of document.querySelectorAll('[data-waiting-status]')) {
  const url = status.getAttribute('data-waiting-status');
  const initial = status.getAttribute('data-waiting-initial');
  const next = document.querySelector('[data-waiting-continue]');
  if (initial !== 'pending') continue;
  const ask = () => {
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' })
      .then((r) => (r.ok ? r.json() : { status: 'expired' }))
      .then((answer) => {
        if (answer.status === 'pending') return void setTimeout(ask, 2000);
        // Approved: collect it; refused or expired: the page says so.
        if (answer.status === 'approved' && next) next.click();
        else window.location.reload();
      })
      .catch(() => setTimeout(ask, 5000));
  };
  setTimeout(ask, 2000);
}
