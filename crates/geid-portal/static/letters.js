// "Sign and send" on a draft: the card's signing certificate → the server prepares the CAdES
// signed attributes and answers the digest to sign → the card signs it (PIN in the extension's
// window) → the server assembles, verifies (signer = the logged-in citizen) and sends.
import { getSigningCertificate, sign, GeidError } from '/static/geid.js';

const lang = document.documentElement.lang === 'en' ? 'en' : 'ka';
const button = /** @type {HTMLButtonElement | null} */ (document.getElementById('sign-and-send'));
const status = /** @type {HTMLElement | null} */ (document.getElementById('sign-status'));

/** @param {string} text @param {string} [code] */
function show(text, code) {
  if (!status) return;
  status.textContent = code ? `${text} (${code})` : text;
  status.dataset.code = code || '';
}

/** @param {string} url @param {unknown} body */
async function postJson(url, body) {
  const r = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': button?.dataset.csrf || '' },
    body: JSON.stringify(body),
  });
  const answer = await r.json();
  if (!r.ok) throw new GeidError(answer.error || 'INTERNAL', answer.message || '');
  return answer;
}

button?.addEventListener('click', async () => {
  const id = button.dataset.letterId;
  button.disabled = true;
  show('…');
  try {
    const { certificate } = await getSigningCertificate({ lang });
    const prepared = await postJson(`/letters/${id}/sign/prepare`, { certificate });
    const { signature } = await sign(certificate, prepared.hash, prepared.hashFunction, { lang });
    const sent = await postJson(`/letters/${id}/sign/complete`, { signature });
    window.location.assign(sent.next);
  } catch (e) {
    const code = e instanceof GeidError ? e.code : 'INTERNAL';
    show((e instanceof Error && e.message) || button.dataset.refused || '', code);
    button.disabled = false;
  }
});
