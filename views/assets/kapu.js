// kapu's one script: progressive enhancement only. Every page works without it.
/* global document, window */
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

// The DÁP waiting page: ask kapu where the phone's approval stands (a read that costs no
// try) and go on as soon as it is decided. Without the script the citizen presses "Tovább".
for (const status of document.querySelectorAll('[data-dap-status]')) {
  const url = status.getAttribute('data-dap-status');
  const initial = status.getAttribute('data-dap-initial');
  const next = document.getElementById('dap-continue');
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
