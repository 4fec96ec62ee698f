// @ts-check
/**
 * Turns a message from the content script into a request: origin from the attested sender,
 * secure-context and frame rules, argument checks, and one running request per page, frame and
 * action (`ACTION_PENDING`).
 * @module
 */
import { pageError } from '../common/errors.js';
import { prepareRequest } from './arguments.js';
import { requestOrigin } from './origin.js';

/** Type of the messages the content script sends. */
export const CONTENT_MESSAGE_TYPE = 'geid:request';

/**
 * @typedef {{pending: Set<string>,
 *            run: (request: import('./arguments.js').PreparedRequest & {origin: string}) => Promise<import('./request.js').Outcome>}} RouterContext
 */

/**
 * @param {RouterContext} ctx
 * @param {unknown} message `{type: "geid:request", action, arguments}` from the content script
 * @param {import('./origin.js').Sender} sender as the browser attests it
 * @returns {Promise<import('./request.js').Outcome>}
 */
export async function handleContentMessage(ctx, message, sender) {
  /** @param {string} code @param {string} text */
  const refuse = (code, text) => /** @type {import('./request.js').Outcome} */ ({ ok: false, error: pageError(code, text) });
  if (typeof message !== 'object' || message === null) return refuse('INVALID_ARGUMENT', 'malformed request');
  const m = /** @type {Record<string, unknown>} */ (message);
  if (m.type !== CONTENT_MESSAGE_TYPE) return refuse('INVALID_ARGUMENT', 'malformed request');
  const decided = requestOrigin(sender);
  if (!decided.ok) return refuse(decided.code, decided.message);
  const prepared = prepareRequest(m.action, m.arguments, decided.origin);
  if (!prepared.ok) return refuse(prepared.code, prepared.message);
  const key = `${sender.tab?.id ?? '-'}:${sender.frameId ?? '-'}:${prepared.request.action}`;
  if (ctx.pending.has(key)) return refuse('ACTION_PENDING', `${prepared.request.action} is already running for this page`);
  ctx.pending.add(key);
  try {
    return await ctx.run({ ...prepared.request, origin: decided.origin });
  } finally {
    ctx.pending.delete(key);
  }
}
