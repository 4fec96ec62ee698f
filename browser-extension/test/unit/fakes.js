// @ts-check
/** Fakes for unit tests: a clock, a native port, a prompt window. */

/** A manual clock with `setTimeout`/`clearTimeout` and `advance(ms)`. */
export class FakeClock {
  constructor() {
    this.now = 0;
    /** @type {Map<number, {at: number, cb: () => void}>} */
    this.timers = new Map();
    this.nextId = 1;
    this.setTimeout = (/** @type {() => void} */ cb, /** @type {number} */ ms) => {
      const id = this.nextId++;
      this.timers.set(id, { at: this.now + ms, cb });
      return id;
    };
    this.clearTimeout = (/** @type {any} */ id) => {
      this.timers.delete(id);
    };
  }

  /** @param {number} ms */
  advance(ms) {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].cb();
    }
    this.now = until;
  }
}

/** A fake `runtime.Port` to the native host: records what the extension sends. */
export class FakePort {
  constructor() {
    /** @type {any[]} */
    this.sent = [];
    this.disconnected = false;
    /** @type {Array<(m: any) => void>} */
    this.messageListeners = [];
    /** @type {Array<(p: any) => void>} */
    this.disconnectListeners = [];
    this.onMessage = { addListener: (/** @type {(m: any) => void} */ cb) => this.messageListeners.push(cb) };
    this.onDisconnect = { addListener: (/** @type {(p: any) => void} */ cb) => this.disconnectListeners.push(cb) };
  }

  /** @param {any} message */
  postMessage(message) {
    if (this.disconnected) throw new Error('port closed');
    this.sent.push(structuredClone(message));
  }

  disconnect() {
    this.disconnected = true;
  }

  /** The host sends a message. @param {any} message */
  receive(message) {
    for (const cb of this.messageListeners) cb(message);
  }

  /** The host exits. */
  hostExits() {
    this.disconnected = true;
    for (const cb of this.disconnectListeners) cb(this);
  }

  /** The last message sent, and the commands sent so far. */
  get last() {
    return this.sent[this.sent.length - 1];
  }

  get commands() {
    return this.sent.map((m) => m.command);
  }
}

/** A fake prompt factory: records views, lets a test type a PIN or close the window. */
export class FakePrompts {
  constructor() {
    /** @type {Array<{views: any[], handlers: any, closed: boolean}>} */
    this.opened = [];
  }

  /** @param {any} view @param {any} handlers */
  open(view, handlers) {
    const entry = { views: [view], handlers, closed: false };
    this.opened.push(entry);
    return {
      update: (/** @type {any} */ next) => entry.views.push(next),
      close: () => {
        entry.closed = true;
      },
    };
  }

  get current() {
    return this.opened[this.opened.length - 1];
  }
}
