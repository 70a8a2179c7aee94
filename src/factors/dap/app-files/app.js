// The DÁP reference app (kapu's open form of the mobile-app sign-in). It speaks the device
// protocol of kapu's README: an ES256 key made here with WebCrypto, non-extractable, kept in
// IndexedDB (it never leaves the phone; only its public half is sent), a PIN that kapu checks,
// and a signature over the exact bytes the protocol names. No framework, nothing external.
/* global document, window, navigator, indexedDB, crypto, TextEncoder, location, btoa, history, URLSearchParams */
'use strict';

const API = '/api/device/v1';
/** Device API refusals that end a challenge for this phone: its approval screen has nothing left to offer. */
const FINAL_ERRORS = ['wrong_number', 'challenge_decided', 'challenge_expired', 'device_locked', 'unknown_device', 'wrong_account', 'unknown_challenge'];
const PROTOCOL = 'kapu-dap-v1';

const TEXT = {
  hu: {
    brand: 'DÁP mobilalkalmazás',
    other_lang: 'English',
    home_title: 'DÁP mobilalkalmazás',
    home_intro: 'Bejelentkezéskor olvassa be a számítógépen látható QR-kódot a telefon kamerájával: a hivatkozás ide vezet.',
    home_device: 'Ez a telefon be van állítva: {name}.',
    home_none: 'Ez a telefon még nincs beállítva. A beállításhoz lépjen be a fiókjába, és válassza a „Mobilalkalmazás beállítása” lehetőséget.',
    enroll_title: 'A telefon beállítása',
    enroll_intro: 'Adjon nevet a telefonnak, és válasszon hatjegyű PIN-kódot. A PIN-kódot minden bejelentkezéskor meg kell adnia; ötszöri hibás megadás után a telefont újra be kell állítani.',
    device_name: 'A telefon neve',
    default_name: 'Telefonom',
    pin: 'PIN-kód (6 számjegy)',
    pin_again: 'PIN-kód újra',
    enroll_submit: 'Beállítás',
    enroll_done: 'Kész: a telefon be van állítva ({account}). Térjen vissza a számítógéphez, és nyomja meg a „Tovább” gombot.',
    approve_title: 'Bejelentkezés jóváhagyása',
    service: 'Szolgáltatás',
    portal: 'Ügyfélkapu+ fiók',
    browser: 'Böngésző',
    place: 'Hálózat',
    local_network: 'helyi hálózat',
    time: 'Időpont',
    unknown: 'ismeretlen',
    pick_number: 'Koppintson arra a számra, amelyet a számítógép képernyője mutat:',
    pin_enter: 'PIN-kód',
    approve_submit: 'Jóváhagyás',
    refuse: 'Nem én voltam – elutasítás',
    approved: 'Jóváhagyta a bejelentkezést. A számítógépen folytathatja.',
    refused_done: 'Elutasította a bejelentkezést.',
    working: 'Egy pillanat…',
    err_pin_format: 'A PIN-kód hat számjegy.',
    err_pin_mismatch: 'A két PIN-kód nem egyezik.',
    err_pick: 'Válassza ki a számítógépen látható számot.',
    err_not_enrolled: 'Ez a telefon még nincs beállítva, vagy más kapuhoz tartozik.',
    err_crypto: 'Ez a böngésző nem tud kulcsot készíteni (WebCrypto ECDSA P-256).',
    err_network: 'Nem sikerült elérni a szolgáltatást. Ellenőrizze az internetkapcsolatot, és próbálja újra.',
    'err.wrong_pin': 'A PIN-kód nem megfelelő. Még {attemptsLeft} próbálkozása van.',
    'err.device_locked': 'A telefont ötszöri hibás PIN-kód miatt zároltuk. Állítsa be újra a fiókjában.',
    'err.wrong_number': 'Nem a képernyőn látható számot választotta: a bejelentkezést elutasítottuk. Kezdje újra a számítógépen.',
    'err.challenge_decided': 'Erről a bejelentkezésről már döntöttek, vagy a QR-kódot lecserélték.',
    'err.challenge_expired': 'A QR-kód lejárt. Kérjen újat a számítógépen.',
    'err.enrollment_invalid': 'A beállító hivatkozás lejárt vagy már felhasználták. Kérjen újat a fiókjában.',
    'err.wrong_account': 'Ez a bejelentkezés egy másik fiókhoz tartozik.',
    'err.unknown_device': 'Ezt a telefont eltávolították a fiókból. Állítsa be újra.',
    'err.unknown_challenge': 'Ismeretlen bejelentkezés. Olvassa be újra a QR-kódot.',
    'err.throttled': 'Túl sok kérés. Próbálja újra később.',
    'err.other': 'A kérést nem sikerült teljesíteni ({code}).',
  },
  en: {
    brand: 'DÁP mobile app',
    other_lang: 'Magyar',
    home_title: 'DÁP mobile app',
    home_intro: 'When you sign in, scan the QR code on your computer with the phone’s camera: its link leads here.',
    home_device: 'This phone is set up: {name}.',
    home_none: 'This phone is not set up yet. To set it up, sign in to your account and choose “Set up the mobile app”.',
    enroll_title: 'Set up this phone',
    enroll_intro: 'Give the phone a name and choose a six-digit PIN. You enter the PIN at every sign-in; after five wrong PINs the phone must be set up again.',
    device_name: 'Name of the phone',
    default_name: 'My phone',
    pin: 'PIN (6 digits)',
    pin_again: 'PIN again',
    enroll_submit: 'Set up',
    enroll_done: 'Done: this phone is set up ({account}). Go back to your computer and press “Continue”.',
    approve_title: 'Approve a sign-in',
    service: 'Service',
    portal: 'Ügyfélkapu+ account',
    browser: 'Browser',
    place: 'Network',
    local_network: 'a local network',
    time: 'Time',
    unknown: 'unknown',
    pick_number: 'Tap the number your computer’s screen shows:',
    pin_enter: 'PIN',
    approve_submit: 'Approve',
    refuse: 'This was not me – refuse',
    approved: 'You approved the sign-in. You can go on on your computer.',
    refused_done: 'You refused the sign-in.',
    working: 'One moment…',
    err_pin_format: 'The PIN is six digits.',
    err_pin_mismatch: 'The two PINs differ.',
    err_pick: 'Choose the number shown on your computer.',
    err_not_enrolled: 'This phone is not set up yet, or belongs to another kapu.',
    err_crypto: 'This browser cannot make a key (WebCrypto ECDSA P-256).',
    err_network: 'The service could not be reached. Check your connection and try again.',
    'err.wrong_pin': 'That PIN is not right. You have {attemptsLeft} tries left.',
    'err.device_locked': 'This phone is locked after five wrong PINs. Set it up again in your account.',
    'err.wrong_number': 'That is not the number on the screen: the sign-in was refused. Start again on the computer.',
    'err.challenge_decided': 'This sign-in has been decided already, or its QR code was replaced.',
    'err.challenge_expired': 'The QR code has expired. Ask for a new one on the computer.',
    'err.enrollment_invalid': 'The setup link has expired or has been used. Ask for a new one in your account.',
    'err.wrong_account': 'This sign-in belongs to another account.',
    'err.unknown_device': 'This phone was removed from the account. Set it up again.',
    'err.unknown_challenge': 'Unknown sign-in. Scan the QR code again.',
    'err.throttled': 'Too many requests. Try again later.',
    'err.other': 'The request could not be completed ({code}).',
  },
};

let lang = (window.localStorage && window.localStorage.getItem('kapu-dap-lang')) || ((navigator.language || 'hu').toLowerCase().startsWith('en') ? 'en' : 'hu');
const $ = (id) => document.getElementById(id);
const t = (key, vars) => (TEXT[lang][key] || TEXT.hu[key] || key).replace(/\{(\w+)\}/g, (m, name) => (vars && vars[name] !== undefined ? String(vars[name]) : m));

function applyLang() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.getAttribute('data-t'));
  const toggle = $('lang');
  toggle.textContent = t('other_lang');
  toggle.lang = lang === 'hu' ? 'en' : 'hu';
  document.title = `${t('brand')} – Ügyfélkapu+`;
}

// ---- the key store: one device per phone (and per kapu origin), in IndexedDB

function db() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('kapu-dap', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('devices', { keyPath: 'origin' });
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}

async function loadDevice() {
  const store = (await db()).transaction('devices').objectStore('devices');
  return new Promise((resolve, reject) => {
    const got = store.get(location.origin);
    got.onsuccess = () => resolve(got.result || null);
    got.onerror = () => reject(got.error);
  });
}

async function saveDevice(device) {
  const tx = (await db()).transaction('devices', 'readwrite');
  tx.objectStore('devices').put(device);
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}

// ---- the protocol's cryptography

const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** An ES256 signature (64 bytes r‖s, as WebCrypto makes it) over the protocol's lines. */
async function signLines(privateKey, lines) {
  const bytes = new TextEncoder().encode([PROTOCOL, ...lines].join('\n'));
  return b64url(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, bytes));
}

async function api(method, path, body) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: { Accept: 'application/json', 'Accept-Language': lang, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new Error(t('err_network'));
  }
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) {
    const key = `err.${answer.error}`;
    throw Object.assign(new Error(TEXT[lang][key] ? t(key, answer) : t('err.other', { code: answer.error || res.status })), { code: answer.error });
  }
  return answer;
}

// ---- screens

function show(id) {
  for (const section of document.querySelectorAll('main > section')) section.hidden = section.id !== id;
}

function say(message) {
  $('error').hidden = true;
  $('message').textContent = message || '';
}

function fail(err) {
  $('message').textContent = '';
  $('error').textContent = err instanceof Error ? err.message : String(err);
  $('error').hidden = false;
}

async function home() {
  show('home');
  const device = await loadDevice().catch(() => null);
  $('home-device').textContent = device ? t('home_device', { name: device.name }) : t('home_none');
}

function enroll(token) {
  show('enroll');
  $('enroll-form').hidden = false;
  if (!$('device-name').value) $('device-name').value = t('default_name');
  $('enroll-form').onsubmit = async (event) => {
    event.preventDefault();
    const name = $('device-name').value.trim() || t('default_name');
    const pin = $('pin').value;
    if (!/^\d{6}$/.test(pin)) return fail(t('err_pin_format'));
    if (pin !== $('pin2').value) return fail(t('err_pin_mismatch'));
    say(t('working'));
    try {
      // Non-extractable: the private key can sign, and can never be read out of the phone.
      const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']).catch(() => {
        throw new Error(t('err_crypto'));
      });
      const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
      const signature = await signLines(pair.privateKey, ['enroll', location.origin, token]);
      const answer = await api('POST', `${API}/devices`, { token, name, pin, publicKey: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, signature });
      await saveDevice({ origin: location.origin, deviceId: answer.device.id, name: answer.device.name, privateKey: pair.privateKey });
      $('pin').value = '';
      $('pin2').value = '';
      $('enroll-form').hidden = true;
      history.replaceState(null, '', '/app/');
      say(t('enroll_done', { account: answer.account.name }));
    } catch (err) {
      fail(err);
    }
  };
}

async function approve(challengeId) {
  show('approve');
  // Nothing to read and nothing to decide until the challenge is loaded (and its handlers are
  // in place); a link that no longer works shows only why, never empty labels.
  const shown = (ready) => {
    $('facts').hidden = !ready;
    $('approve-form').hidden = !ready;
    $('refuse').hidden = !ready;
  };
  shown(false);
  const device = await loadDevice().catch(() => null);
  if (!device) return fail(t('err_not_enrolled'));
  let info;
  try {
    info = await api('GET', `${API}/challenges/${encodeURIComponent(challengeId)}?device=${encodeURIComponent(device.deviceId)}`);
  } catch (err) {
    return fail(err);
  }
  $('fact-client').textContent = info.client || t('portal');
  $('fact-browser').textContent = info.browser || t('unknown');
  $('fact-place').textContent = info.local ? t('local_network') : info.place || t('unknown');
  $('fact-time').textContent = new Date(info.createdAt).toLocaleString(lang === 'hu' ? 'hu-HU' : 'en-GB');
  shown(true);
  let picked = null;
  const numbers = $('numbers');
  numbers.textContent = '';
  for (const n of info.numbers) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = n;
    button.setAttribute('aria-pressed', 'false');
    button.onclick = () => {
      picked = n;
      for (const b of numbers.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button));
    };
    numbers.appendChild(button);
  }
  // Decided: the decision's controls go (the facts stay, to say what was decided).
  const done = (message) => {
    $('approve-form').hidden = true;
    $('refuse').hidden = true;
    history.replaceState(null, '', '/app/');
    say(message);
  };
  // A refusal after which nothing on this screen can work any more: say it, without the controls.
  const failed = (err) => {
    if (FINAL_ERRORS.includes(err && err.code)) {
      done('');
      $('approve-pin').value = '';
    }
    fail(err);
  };
  const decided = ['origin', 'challengeId', 'nonce', 'interaction'].map((k) => (k === 'origin' ? location.origin : info[k]));
  $('approve-form').onsubmit = async (event) => {
    event.preventDefault();
    if (!picked) return fail(t('err_pick'));
    const pin = $('approve-pin').value;
    if (!/^\d{6}$/.test(pin)) return fail(t('err_pin_format'));
    say(t('working'));
    try {
      const signature = await signLines(device.privateKey, ['approve', ...decided, picked]);
      await api('POST', `${API}/challenges/${info.challengeId}/approve`, { deviceId: device.deviceId, number: picked, pin, signature });
      $('approve-pin').value = '';
      done(t('approved'));
    } catch (err) {
      $('approve-pin').value = '';
      failed(err);
    }
  };
  $('refuse').onclick = async () => {
    try {
      const signature = await signLines(device.privateKey, ['refuse', ...decided, '']);
      await api('POST', `${API}/challenges/${info.challengeId}/refuse`, { deviceId: device.deviceId, signature });
      done(t('refused_done'));
    } catch (err) {
      failed(err);
    }
  };
}

function route() {
  say('');
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get('enroll')) return enroll(params.get('enroll'));
  if (params.get('challenge')) return approve(params.get('challenge'));
  return home();
}

$('lang').onclick = () => {
  lang = lang === 'hu' ? 'en' : 'hu';
  if (window.localStorage) window.localStorage.setItem('kapu-dap-lang', lang);
  applyLang();
  route();
};
window.addEventListener('hashchange', route);
applyLang();
route();
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {});
