// @ts-check
/**
 * The signed-letters service of the reference portal in a real browser with the virtual card:
 * `geid-portal --demo` (its own test PKI and OCSP responder), the card served from that PKI over
 * pcscd + vpcd, the real `geid-host` and the unpacked extension. A citizen registers with the
 * card, writes a request with an attachment, signs it with the signature PIN in the PIN window,
 * and a staff member of the organisation opens it (signature verified) and answers it.
 *
 * Needs pcscd and vsmartcard-vpcd (skipped with the reason otherwise), cargo (or
 * `GEID_HOST_BIN` / `GEID_BIN` / `GEID_PORTAL_BIN`), and Debian's chromium.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launch, outputFile } from './harness.js';
import {
  REPO, binaries, freePort, hostEnvironment, missing, pinWindow, sleep, startPcscd, typePin, virtualCard,
} from './world.js';

const AUTH_PIN = '1234';
const SIGN_PIN = '123456';
const STAFF_PASSWORD = 'clerk-password-e2e';
const skip = missing() ?? false;

/** @type {import('./harness.js').Browser} */
let browser;
/** @type {Awaited<ReturnType<typeof startPcscd>>} */
let pcscd;
/** @type {ReturnType<typeof virtualCard>} */
let card;
/** @type {ReturnType<typeof hostEnvironment>} */
let host;
/** @type {import('node:child_process').ChildProcess} */
let portal;
let portalLog = '';
/** @type {string} */
let dataDir;
/** @type {string} */
let base;

/** `geid-portal` built with the demo feature, unless `GEID_PORTAL_BIN` names one. */
function portalBinary() {
  if (process.env.GEID_PORTAL_BIN) return resolve(process.env.GEID_PORTAL_BIN);
  const built = spawnSync('cargo', ['build', '--quiet', '-p', 'geid-portal', '--features', 'demo'], {
    cwd: REPO,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (built.status !== 0) throw new Error(`cargo build geid-portal failed (${built.status ?? built.signal})`);
  const target = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(REPO, 'target');
  return join(target, 'debug', 'geid-portal');
}

before(async () => {
  if (skip) return;
  const bins = binaries();
  const portalBin = portalBinary();
  dataDir = mkdtempSync(join(tmpdir(), 'geid-e2e-portal-'));
  // A staff account of the Ministry of Justice (the database is created and migrated here).
  const pw = join(dataDir, 'staff-password');
  writeFileSync(pw, `${STAFF_PASSWORD}\n`);
  const staff = spawnSync(portalBin, ['staff', 'add', '--org', 'moj', '--username', 'moj.clerk',
    '--display-name', 'Clerk', '--password-file', pw, '--data-dir', dataDir], { encoding: 'utf8' });
  assert.equal(staff.status, 0, staff.stderr);
  const port = await freePort();
  const ocspPort = await freePort();
  base = `http://localhost:${port}`;
  portal = spawn(portalBin, ['--demo', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`,
    '--demo-ocsp-port', String(ocspPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
  portal.stdout?.on('data', (d) => { portalLog += d; });
  portal.stderr?.on('data', (d) => { portalLog += d; });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline || portal.exitCode !== null) throw new Error(`geid-portal did not start: ${portalLog}`);
    await sleep(100);
  }
  pcscd = await startPcscd();
  // The card holds the citizen of the portal's own demo PKI.
  card = virtualCard(bins.geid, join(dataDir, 'pki'));
  host = hostEnvironment({ cardTimeoutSecs: 30, pinTimeoutSecs: 30 });
  browser = await launch({ nativeHost: { path: bins.host }, env: host.env, viewport: null });
}, { timeout: 600_000 });

after(async () => {
  await browser?.close();
  await card?.remove();
  await pcscd?.stop();
  if (portal && portal.exitCode === null) {
    const gone = new Promise((r) => portal.once('exit', r));
    portal.kill('SIGINT');
    await Promise.race([gone, sleep(5000)]);
    if (portal.exitCode === null) portal.kill('SIGKILL');
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  host?.remove();
});

describe('signed letters through the portal, the extension and the virtual card', { skip }, () => {
  test('register, write, sign with the signature PIN, staff answer', async () => {
    await card.insert();
    const page = await browser.context.newPage();
    await page.goto(`${base}/?lang=en`);
    await page.click('#register-with-card');
    const auth = await pinWindow(browser, { context: () => `portal: ${portalLog}` });
    assert.equal(await auth.textContent('#pin-label'), 'Authentication PIN');
    await typePin(auth, AUTH_PIN);
    await page.waitForURL(/\/register$/);
    await page.fill('#email', 'nino@example.ge');
    await page.fill('#phone', '555 12 34 56');
    await page.click('#submit');
    await page.waitForURL(/\/account/);

    await page.click('#my-letters');
    await page.click('#new-letter');
    await page.selectOption('#letter-kind', 'request');
    await page.selectOption('#letter-org', 'moj');
    await page.fill('#letter-subject', 'Public information request');
    await page.fill('#letter-body', 'გთხოვთ მომაწოდოთ ინფორმაცია.\nPlease send me the information.');
    await page.setInputFiles('#letter-attachments', {
      name: 'note.txt', mimeType: 'text/plain', buffer: Buffer.from('შენიშვნა / note\n', 'utf8'),
    });
    await page.click('#save-draft');
    await page.waitForSelector('#letter-files li[data-file-id]');

    await page.click('#sign-and-send');
    const sign = await pinWindow(browser, { context: () => `portal: ${portalLog}` });
    assert.equal(await sign.textContent('#pin-label'), 'Signature PIN');
    await typePin(sign, SIGN_PIN);
    await page.waitForSelector('#letter-state[data-state="sent"]', { timeout: 30_000 });
    assert.equal((await page.textContent('#signer-personal-number'))?.trim(), '01001000001');
    await page.screenshot({ path: outputFile('portal-letter-sent-en.png'), fullPage: true });

    // The staff member sees it, opens it (signature verified again) and answers.
    const staff = await browser.context.newPage();
    await staff.goto(`${base}/staff/login?lang=en`);
    await staff.fill('#staff-username', 'moj.clerk');
    await staff.fill('#staff-password', STAFF_PASSWORD);
    await staff.click('#submit');
    await staff.waitForURL(/\/staff$/);
    await staff.click('#inbox a.letter-link');
    await staff.waitForSelector('#signature-status[data-valid="true"]');
    assert.equal(await staff.getAttribute('#letter-state', 'data-state'), 'received');
    await staff.fill('#answer-text', 'The information is attached.');
    await staff.click('#send-answer');
    await staff.waitForSelector('#answer-body');

    await page.reload();
    await page.waitForSelector('#letter-state[data-state="answered"]');
    assert.equal((await page.textContent('#answer-body'))?.trim(), 'The information is attached.');
    await page.click('#verify-link');
    await page.waitForSelector('#verify-result[data-valid="true"]');
    await page.screenshot({ path: outputFile('portal-letter-verified-en.png'), fullPage: true });
    await staff.close();
    await page.close();
  });
});
