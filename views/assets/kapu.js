// kapu's one script: progressive enhancement only. Every page works without it.
/* global document, setInterval, clearInterval */
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
