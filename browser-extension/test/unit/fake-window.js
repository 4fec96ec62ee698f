// @ts-check
/**
 * A minimal `window` for running the content script and geid.js under node: `postMessage`
 * delivers asynchronously to listeners with `event.source` set to the sending window, as
 * browsers do.
 */
export class FakeWindow {
  /** @param {string} [origin] */
  constructor(origin = 'https://portal.example.ge') {
    /** @type {Array<(e: any) => void>} */
    this.listeners = [];
    /** @type {any[]} everything posted to this window */
    this.posted = [];
    this.location = { origin };
  }

  /** @param {string} type @param {(e: any) => void} cb */
  addEventListener(type, cb) {
    if (type === 'message') this.listeners.push(cb);
  }

  /** @param {string} type @param {(e: any) => void} cb */
  removeEventListener(type, cb) {
    if (type === 'message') this.listeners = this.listeners.filter((l) => l !== cb);
  }

  /** Posted by this window's own scripts. @param {any} data @param {string} _targetOrigin */
  postMessage(data, _targetOrigin) {
    this.deliver(data, this);
  }

  /** @param {any} data @param {any} source */
  deliver(data, source) {
    const copy = structuredClone(data);
    this.posted.push(copy);
    setImmediate(() => {
      for (const l of [...this.listeners]) l({ data: copy, source, origin: this.location.origin });
    });
  }
}

export const settle = () => new Promise((r) => setTimeout(r, 5));
