// @ts-check
/**
 * The real test world for host-dependent end-to-end tests: the `geid-host` and `geid` binaries
 * (cargo-built), a private pcscd with the vpcd reader of `tests/pcscd/reader.conf`, a test PKI
 * from `geid testkit pki`, and the virtual card served by `geid testkit card` over vpcd.
 *
 * pcscd is handled as `crates/geid-testkit/src/pcscd.rs` does: a machine-wide lock (a bound
 * loopback port, 127.0.0.1:40099, shared with the Rust tests) is held while it runs; a pcscd this
 * harness did not start is never touched; a stale socket is removed only when no pcscd is alive;
 * pcscd is stopped by PID (SIGTERM, then SIGKILL after 3 s).
 *
 * Environment: `GEID_HOST_BIN`, `GEID_BIN`, `GEID_PORTAL_BIN` and `GEID_KIOSK_BIN` name prebuilt
 * binaries; otherwise `target/debug/geid-host`, `target/debug/geid`, `target/debug/geid-portal`
 * and `target/debug/geid-kiosk` are built (or brought up to date) with cargo.
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT } from './harness.js';

/** The repository root (the cargo workspace). */
export const REPO = resolve(ROOT, '..');
export const PCSCD_SOCKET = '/run/pcscd/pcscd.comm';
export const PCSCD_PID_FILE = '/run/pcscd/pcscd.pid';
export const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';
export const VPCD_ADDRESS = '127.0.0.1:40000';
export const READER_NAME = 'geid vpcd 00 00';
const LOCK_PORT = 40_099;
const PCSCD_CANDIDATES = ['/usr/sbin/pcscd', '/usr/bin/pcscd', '/sbin/pcscd'];

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Why the host world cannot run here, or null. */
export function missing() {
  if (!PCSCD_CANDIDATES.some((p) => existsSync(p))) return 'pcscd is not installed (Debian package pcscd)';
  if (!existsSync(VPCD_DRIVER)) return `the vpcd driver ${VPCD_DRIVER} is not installed (Debian package vsmartcard-vpcd)`;
  return null;
}

/**
 * Paths of `geid-host`, `geid` (with the testkit feature), with `{portal: true}` `geid-portal`
 * (with the demo feature) and with `{kiosk: true}` `geid-kiosk`. Builds them with cargo unless
 * every binary asked for is given in the environment. The build is always the same single cargo
 * command for all four packages, so that host-only, portal and kiosk tests in one run do not
 * rebuild shared crates with different features.
 * @param {{portal?: boolean, kiosk?: boolean}} [options]
 * @returns {{host: string, geid: string, portal: string, kiosk: string}}
 */
export function binaries(options = {}) {
  const fromEnv = {
    host: process.env.GEID_HOST_BIN,
    geid: process.env.GEID_BIN,
    portal: process.env.GEID_PORTAL_BIN,
    kiosk: process.env.GEID_KIOSK_BIN,
  };
  const target = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(REPO, 'target');
  const paths = {
    host: fromEnv.host ? resolve(fromEnv.host) : join(target, 'debug', 'geid-host'),
    geid: fromEnv.geid ? resolve(fromEnv.geid) : join(target, 'debug', 'geid'),
    portal: fromEnv.portal ? resolve(fromEnv.portal) : join(target, 'debug', 'geid-portal'),
    kiosk: fromEnv.kiosk ? resolve(fromEnv.kiosk) : join(target, 'debug', 'geid-kiosk'),
  };
  if (fromEnv.host && fromEnv.geid && (fromEnv.portal || !options.portal) && (fromEnv.kiosk || !options.kiosk)) return paths;
  const built = spawnSync('cargo', ['build', '--quiet', ...BUILD_ARGS], {
    cwd: REPO,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (built.status !== 0) throw new Error(`cargo build failed (${built.status ?? built.signal})`);
  return paths;
}

/** The cargo build of the binaries the end-to-end tests run (`scripts/test-all.sh` uses the same). */
export const BUILD_ARGS = ['-p', 'geid-host', '-p', 'geid-cli', '-p', 'geid-portal', '-p', 'geid-kiosk', '--features', 'geid-cli/testkit,geid-portal/demo'];

/**
 * The machine-wide pcscd lock shared with the Rust harness. Waits up to `timeoutMs`.
 * @param {number} [timeoutMs]
 * @returns {Promise<{release: () => Promise<void>}>}
 */
export async function acquirePcscdLock(timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const server = createServer();
    const bound = await new Promise((resolveBind) => {
      server.once('error', (e) => resolveBind(e));
      server.listen({ port: LOCK_PORT, host: '127.0.0.1', exclusive: true }, () => resolveBind(null));
    });
    if (bound === null) {
      server.unref();
      return { release: () => new Promise((r) => server.close(() => r(undefined))) };
    }
    if (Date.now() >= deadline) throw new Error(`pcscd lock 127.0.0.1:${LOCK_PORT} still held after ${timeoutMs / 1000} s: ${bound}`);
    await sleep(100);
  }
}

/** @param {number} pid */
function isPcscd(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'pcscd';
  } catch {
    return false;
  }
}

/** The PID of a live pcscd named by pcsc-lite's PID file, or null. */
export function runningPcscd() {
  try {
    const pid = Number.parseInt(readFileSync(PCSCD_PID_FILE, 'utf8').trim(), 10);
    return Number.isInteger(pid) && isPcscd(pid) ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Takes the lock and starts `pcscd -f -c tests/pcscd/reader.conf`.
 * @returns {Promise<{pid: number, log: () => string, stop: () => Promise<void>}>}
 */
export async function startPcscd() {
  const lock = await acquirePcscdLock();
  try {
    const other = runningPcscd();
    if (other !== null) {
      throw new Error(`a pcscd not started by the test harness is running (pid ${other}); stop it (or its systemd socket unit) first`);
    }
    if (existsSync(PCSCD_SOCKET)) unlinkSync(PCSCD_SOCKET); // stale: no pcscd is alive
    const config = join(REPO, 'tests', 'pcscd', 'reader.conf');
    const logPath = join(tmpdir(), `geid-e2e-pcscd-${process.pid}.log`);
    const fd = openSync(logPath, 'w');
    const child = spawn('pcscd', ['-f', '-c', config], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    /** @type {number | null} */
    let exitCode = null;
    let exited = false;
    child.on('exit', (code) => {
      exited = true;
      exitCode = code;
    });
    const log = () => {
      try {
        return readFileSync(logPath, 'utf8');
      } catch {
        return '';
      }
    };
    const deadline = Date.now() + 10_000;
    while (!existsSync(PCSCD_SOCKET)) {
      if (exited) throw new Error(`pcscd exited (${exitCode}): ${log()}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`pcscd did not start: ${log()}`);
      }
      await sleep(20);
    }
    const pid = /** @type {number} */ (child.pid);
    return {
      pid,
      log,
      stop: async () => {
        if (!exited) {
          child.kill('SIGTERM');
          const until = Date.now() + 3000;
          while (!exited && Date.now() < until) await sleep(20);
          if (!exited) {
            child.kill('SIGKILL');
            while (!exited) await sleep(20);
          }
        }
        if (runningPcscd() === null && existsSync(PCSCD_SOCKET)) {
          try {
            unlinkSync(PCSCD_SOCKET);
          } catch {
            // gone already
          }
        }
        rmSync(logPath, { force: true });
        await lock.release();
      },
    };
  } catch (e) {
    await lock.release();
    throw e;
  }
}

/**
 * Writes a test PKI with `geid testkit pki`.
 * @param {string} geid path of the `geid` binary
 * @param {string} dir
 */
export function makePki(geid, dir) {
  const out = spawnSync(geid, ['testkit', 'pki', '--out', dir], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`geid testkit pki failed: ${out.stderr}`);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  /** @param {string} name */
  const entry = (name) => {
    const e = manifest.entries.find((/** @type {any} */ x) => x.name === name && (x.role === 'citizen-auth' || x.role === 'root' || x.role === 'intermediate'));
    if (!e) throw new Error(`no ${name} in the test PKI`);
    return e;
  };
  const citizen = manifest.entries.find((/** @type {any} */ x) => x.name === 'citizen' && x.role === 'citizen-auth');
  return {
    dir,
    manifest,
    /** @param {string} file */
    pem: (file) => readFileSync(join(dir, file), 'utf8'),
    rootPem: readFileSync(join(dir, entry('root').cert_pem), 'utf8'),
    authCaPem: readFileSync(join(dir, entry('auth-ca').cert_pem), 'utf8'),
    citizen,
  };
}

/**
 * Waits until pcscd reports a card in (or no card in) the reader the virtual card uses, as
 * `geid readers --json` sees it.
 * @param {string} geid
 * @param {boolean} present
 * @param {number} [timeoutMs]
 */
export async function waitForCard(geid, present, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const out = spawnSync(geid, ['readers', '--json'], { encoding: 'utf8' });
    last = out.stdout || out.stderr;
    try {
      const reader = JSON.parse(out.stdout).find((/** @type {any} */ r) => r.name === READER_NAME);
      if (reader && (reader.atr !== null && reader.atr !== undefined) === present) return;
    } catch {
      // pcscd not answering yet
    }
    if (Date.now() > deadline) throw new Error(`reader ${READER_NAME}: card ${present ? 'not seen' : 'still seen'} after ${timeoutMs} ms: ${last}`);
    await sleep(50);
  }
}

/**
 * A virtual card served by `geid testkit card` over vpcd. `insert()` starts the process and
 * waits until pcscd sees the card; `remove()` kills it and waits until pcscd sees no card. Every
 * insertion is a fresh card (PIN counters at their maximum).
 * @param {string} geid
 * @param {string} pkiDir
 * @param {{citizen?: string}} [options] `citizen`: the test PKI's citizen whose keys the card
 *   holds (default `citizen`; see the PKI's `manifest.json`)
 */
export function virtualCard(geid, pkiDir, options = {}) {
  const citizen = options.citizen ?? 'citizen';
  /** @type {import('node:child_process').ChildProcess | null} */
  let child = null;
  let stderr = '';
  return {
    get inserted() {
      return child !== null;
    },
    output: () => stderr,
    async insert() {
      if (child) return;
      stderr = '';
      const proc = spawn(geid, ['testkit', 'card', '--pki', pkiDir, '--citizen', citizen, '--vpcd', VPCD_ADDRESS], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child = proc;
      const ready = new Promise((resolveReady, rejectReady) => {
        proc.stderr?.setEncoding('utf8');
        proc.stderr?.on('data', (chunk) => {
          stderr += chunk;
          if (stderr.includes('inserted at vpcd')) resolveReady(undefined);
        });
        proc.on('exit', (code, signal) => rejectReady(new Error(`virtual card exited (${code ?? signal}): ${stderr}`)));
      });
      /** @type {NodeJS.Timeout | undefined} */
      let timer;
      const timeout = new Promise((_, rejectTimeout) => {
        timer = setTimeout(() => rejectTimeout(new Error(`virtual card did not start: ${stderr}`)), 30_000);
      });
      try {
        await Promise.race([ready, timeout]);
      } finally {
        clearTimeout(timer);
      }
      await waitForCard(geid, true);
    },
    async remove() {
      const proc = child;
      child = null;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      /** @type {NodeJS.Timeout | undefined} */
      let timer;
      await Promise.race([gone, new Promise((r) => { timer = setTimeout(r, 3000); })]);
      clearTimeout(timer);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await gone;
      }
      await waitForCard(geid, false);
    },
  };
}

/**
 * A scratch directory with the host's environment: config, log file and HOME.
 * @param {{cardTimeoutSecs?: number, pinTimeoutSecs?: number}} [timeouts]
 */
export function hostEnvironment(timeouts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'geid-e2e-host-'));
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  const config = join(dir, 'host.json');
  writeFileSync(config, JSON.stringify({ cardTimeoutSecs: 30, pinTimeoutSecs: 30, ...timeouts }));
  const logFile = join(dir, 'host.log');
  return {
    dir,
    logFile,
    env: {
      GEID_HOST_CONFIG: config,
      GEID_HOST_LOG: 'debug',
      GEID_HOST_LOG_FILE: logFile,
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_STATE_HOME: join(home, '.local', 'state'),
    },
    /** The host log so far (empty when none was written). */
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((r) => server.close(() => r(undefined)));
  return port;
}

/**
 * The reference portal in demo mode: `geid-portal --demo` with a fresh data folder, listening on
 * 127.0.0.1 and verifying tokens for the origin `http://localhost:PORT`. It writes its test PKI
 * to `DATA/pki` (the virtual card must use that one) and runs the OCSP responder in-process on a
 * free port. Waits for `/healthz`; `stop()` ends it by PID (SIGINT, then SIGKILL after 3 s) and
 * removes the data folder. `pause()` and `unpause()` freeze and thaw it (SIGSTOP, SIGCONT), a
 * portal that does not answer. `halt()` ends the process but keeps the data folder; `resume()`
 * starts it again on the same port, data folder and OCSP port, so the PKI, the accounts and the
 * registered kiosks are those of before.
 * @param {string} portalBin path of `geid-portal` built with the demo feature
 */
export async function startPortal(portalBin) {
  const dataDir = mkdtempSync(join(tmpdir(), 'geid-e2e-portal-'));
  const logPath = join(dataDir, 'portal.log');
  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');

  /**
   * Starts the process; resolves with it once `/healthz` answers, or with null when the listen
   * port was taken by another process meanwhile.
   * @param {number} port
   * @param {number} ocspPort 0: any free port
   */
  async function spawnPortal(port, ocspPort) {
    const logStart = log().length;
    const fd = openSync(logPath, 'a');
    const child = spawn(portalBin, ['--demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--demo-ocsp-port', String(ocspPort)], {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info' },
    });
    closeSync(fd);
    const proc = { child, exited: false };
    child.on('exit', () => { proc.exited = true; });
    const deadline = Date.now() + 30_000;
    let up = false;
    while (!up && !proc.exited && Date.now() < deadline) {
      try {
        up = (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
      } catch {
        // not listening yet
      }
      if (!up) await sleep(50);
    }
    if (up) return proc;
    if (!proc.exited) child.kill('SIGKILL');
    while (!proc.exited) await sleep(20);
    if (/binding 127\.0\.0\.1/.test(log().slice(logStart))) return null;
    throw new Error(`geid-portal did not start: ${log()}`);
  }

  /** @param {{child: import('node:child_process').ChildProcess, exited: boolean}} proc */
  async function end(proc) {
    if (proc.exited) return;
    proc.child.kill('SIGCONT');
    proc.child.kill('SIGINT');
    const until = Date.now() + 3000;
    while (!proc.exited && Date.now() < until) await sleep(20);
    if (!proc.exited) {
      proc.child.kill('SIGKILL');
      while (!proc.exited) await sleep(20);
    }
  }

  // The origin is derived from the listen port, so the port is chosen here; a clash with another
  // process that takes it in between is retried.
  let port = 0;
  /** @type {{child: import('node:child_process').ChildProcess, exited: boolean} | null} */
  let current = null;
  for (let attempt = 0; current === null; attempt++) {
    if (attempt === 3) throw new Error(`geid-portal: no free port after 3 tries: ${log()}`);
    port = await freePort();
    current = await spawnPortal(port, 0);
  }
  const ocsp = /OCSP responder at http:\/\/127\.0\.0\.1:(\d+)/.exec(log());
  if (!ocsp) throw new Error(`geid-portal did not name its OCSP responder: ${log()}`);
  const ocspPort = Number(ocsp[1]);
  const origin = `http://localhost:${port}`;
  return {
    origin,
    port,
    ocspPort,
    dataDir,
    pkiDir: join(dataDir, 'pki'),
    log,
    /** @param {string} path */
    url: (path) => `${origin}${path}`,
    get running() {
      return current !== null && !current.exited;
    },
    /** Freezes the process (SIGSTOP): connections are accepted by the kernel, never answered. */
    pause: () => {
      if (current && !current.exited) current.child.kill('SIGSTOP');
    },
    /** Lets a paused process run again (SIGCONT). */
    unpause: () => {
      if (current && !current.exited) current.child.kill('SIGCONT');
    },
    halt: async () => {
      if (current) await end(current);
    },
    resume: async () => {
      if (current && !current.exited) return;
      current = await spawnPortal(port, ocspPort);
      if (current === null) throw new Error(`geid-portal: port ${port} was taken while it was halted`);
    },
    stop: async () => {
      if (current) await end(current);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The House of Justice kiosk: a fresh key pair from `geid-kiosk generate-key`, its public key
 * registered at `portal` with `geid-portal register-kiosk` (against the portal's data folder,
 * while the portal runs), and `geid-kiosk` on a free loopback port talking to the portal at its
 * origin. Waits until the kiosk UI answers; `stop()` ends it by PID (SIGINT, then SIGKILL after
 * 3 s) and removes its scratch folder.
 * @param {{kiosk: string, portal: string}} bins paths of `geid-kiosk` and `geid-portal`
 * @param {{origin: string, dataDir: string}} portal a portal from `startPortal`
 * @param {{id?: string, idleTimeoutSecs?: number}} [options]
 */
export async function startKiosk(bins, portal, options = {}) {
  const id = options.id ?? 'e2e-kiosk-01';
  const dir = mkdtempSync(join(tmpdir(), 'geid-e2e-kiosk-'));
  const key = join(dir, 'kiosk.key');
  const generated = spawnSync(bins.kiosk, ['generate-key', key], { encoding: 'utf8' });
  if (generated.status !== 0) throw new Error(`geid-kiosk generate-key failed: ${generated.stderr}`);
  const registered = spawnSync(bins.portal, ['register-kiosk', '--data-dir', portal.dataDir, '--id', id, '--public-key', join(dir, 'kiosk.pub')], { encoding: 'utf8' });
  if (registered.status !== 0) throw new Error(`geid-portal register-kiosk failed: ${registered.stderr}`);
  const logPath = join(dir, 'kiosk.log');
  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const logStart = log().length;
    const fd = openSync(logPath, 'a');
    const child = spawn(bins.kiosk, [
      '--portal', portal.origin, '--kiosk-id', id, '--key', key, '--listen', `127.0.0.1:${port}`,
      '--idle-timeout', String(options.idleTimeoutSecs ?? 600),
    ], { stdio: ['ignore', fd, fd], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info' } });
    closeSync(fd);
    let exited = false;
    child.on('exit', () => { exited = true; });
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    let up = false;
    while (!up && !exited && Date.now() < deadline) {
      try {
        up = (await fetch(`${base}/api/state?after=0`)).ok;
      } catch {
        // not listening yet
      }
      if (!up) await sleep(50);
    }
    if (!up) {
      if (!exited) child.kill('SIGKILL');
      while (!exited) await sleep(20);
      if (attempt < 2 && /Address already in use/i.test(log().slice(logStart))) continue;
      throw new Error(`geid-kiosk did not start: ${log()}`);
    }
    return {
      id,
      base,
      log,
      /** @param {string} path */
      url: (path) => `${base}${path}`,
      /** The operator status (`GET /api/operator`). */
      operator: async () => /** @type {any} */ (await (await fetch(`${base}/api/operator`)).json()),
      stop: async () => {
        if (!exited) {
          child.kill('SIGINT');
          const until = Date.now() + 3000;
          while (!exited && Date.now() < until) await sleep(20);
          if (!exited) {
            child.kill('SIGKILL');
            while (!exited) await sleep(20);
          }
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

/**
 * The PIN window the background opened: the extension's `pin.html` in a popup window.
 * @param {import('./harness.js').Browser} browser
 * @param {{timeoutMs?: number, context?: () => string}} [options] `context` adds a diagnostic
 *   (a log) to the timeout error.
 */
export async function pinWindow(browser, { timeoutMs = 15_000, context } = {}) {
  const prefix = `chrome-extension://${browser.extensionId}/pin.html?`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const page = browser.context.pages().find((p) => p.url().startsWith(prefix));
    if (page) {
      await page.waitForSelector('#app:not([hidden])');
      return page;
    }
    if (Date.now() > deadline) {
      const pages = browser.context.pages().map((p) => p.url());
      throw new Error(`no PIN window within ${timeoutMs} ms; pages: ${pages}${context ? `; ${context()}` : ''}`);
    }
    await sleep(10);
  }
}

/**
 * Waits until no PIN window is open.
 * @param {import('./harness.js').Browser} browser
 * @param {number} [timeoutMs]
 */
export async function noPinWindow(browser, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (browser.context.pages().some((p) => p.url().includes('/pin.html'))) {
    if (Date.now() > deadline) throw new Error('the PIN window stayed open');
    await sleep(20);
  }
}

/**
 * Clicks OK in the PIN window. With a right PIN the host answers within milliseconds and the
 * window closes, which can happen before playwright's click call returns; a closed window is
 * then the expected outcome, not an error.
 * @param {import('playwright-core').Page} popup
 */
export async function submitPin(popup) {
  try {
    await popup.click('#ok');
  } catch (e) {
    if (!popup.isClosed()) throw e;
  }
}

/**
 * Types a PIN into the PIN window and presses OK.
 * @param {import('playwright-core').Page} popup
 * @param {string} pin
 */
export async function typePin(popup, pin) {
  await popup.waitForSelector('#pin-form:not([hidden]) #pin:not([disabled])');
  await popup.fill('#pin', pin);
  await submitPin(popup);
}
