// The portal's only script: the ID-card buttons on the start page.
// challenge (POST /auth/challenge) → card (geid.js, the extension, the PIN window) → token →
// POST /auth/login → the server says where to go next.
import { authenticate, GeidError } from '/static/geid.js';

const lang = document.documentElement.lang === 'en' ? 'en' : 'ka';
const message = /** @type {HTMLElement} */ (document.getElementById('message'));

/** @param {string} text @param {string} [code] */
function show(text, code) {
  message.textContent = code ? `${text} (${code})` : text;
  message.dataset.code = code || '';
}

/** @param {'login' | 'register'} mode */
async function withCard(mode) {
  show(message.dataset.working || '');
  try {
    const challenge = await fetch('/auth/challenge', { method: 'POST', credentials: 'same-origin' });
    const { nonce, error } = await challenge.json();
    if (!challenge.ok) throw new GeidError(error || 'INTERNAL', 'challenge refused');
    const token = await authenticate(nonce, { lang });
    const login = await fetch('/auth/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(token),
    });
    const answer = await login.json();
    if (!login.ok) throw new GeidError(answer.error || 'INTERNAL', answer.message || '');
    if (mode === 'register' && answer.registered) {
      window.location.assign('/account?notice=existing');
    } else {
      window.location.assign(answer.next);
    }
  } catch (e) {
    const code = e instanceof GeidError ? e.code : 'INTERNAL';
    if (code === 'USER_CANCELLED') {
      // The citizen closed the PIN window or pressed Cancel: say so plainly, no error code.
      message.textContent = message.dataset.cancelled || '';
      message.dataset.code = code;
      return;
    }
    const text = code === 'EXTENSION_UNAVAILABLE' ? message.dataset.noExtension : message.dataset.failed;
    show(text || '', code);
  }
}

document.getElementById('login-with-card')?.addEventListener('click', () => withCard('login'));
document.getElementById('register-with-card')?.addEventListener('click', () => withCard('register'));
