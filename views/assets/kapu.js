// kapu's one script: progressive enhancement only. Every page works without it.
/* global document */
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
