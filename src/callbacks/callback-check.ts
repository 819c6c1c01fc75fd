/**
 * Refuses a callback URL at submission when it cannot be delivered safely: no callbacks section,
 * no endpoint it falls under (whose secret would sign it), or a host resolving to a loopback, private, link-local or metadata address that
 * callbacks.allow does not list. The address is checked again at delivery (address-guard.ts).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { AppError } from '../errors.ts';
import { ENCODED_SEPARATOR, endpointFor } from '../runners/callback-endpoints.ts';
import type { CallbackSettings } from '../runners/runner.ts';
import type { CallbackCheck } from '../tasks/task-service.ts';
import { checkCallbackUrl, createAllowList, type Lookup } from '../address-guard.ts';

export const systemLookup: Lookup = (host) => dnsLookup(host, { all: true });

export function createCallbackCheck(settings: CallbackSettings | undefined, lookup: Lookup = systemLookup): CallbackCheck {
  const allow = createAllowList(settings?.allow ?? []);
  return async (url, path) => {
    if (settings === undefined) {
      throw new AppError('VALIDATION_FAILED', 'callbacks are not configured: add a callbacks section (with endpoints) to the runners file', {
        details: [{ path, message: 'callbacks are not configured' }],
      });
    }
    const verdict = await checkCallbackUrl(url, { lookup, allow });
    if (!verdict.ok) {
      throw new AppError('VALIDATION_FAILED', `callback URL refused: ${verdict.message}`, { details: [{ path, message: verdict.message }] });
    }
    if (ENCODED_SEPARATOR.test(new URL(url).pathname)) {
      const message = 'must not encode /, \\ or . in its path (%2F, %5C, %2E): a receiver that decodes them could route it elsewhere';
      throw new AppError('VALIDATION_FAILED', `callback URL refused: it ${message}`, { details: [{ path, message }] });
    }
    if (endpointFor(settings.endpoints, url) === undefined) {
      const message = 'is under no callbacks endpoint (the runners file\'s callbacks.endpoints list where Berth sends callbacks, each with its secret)';
      throw new AppError('VALIDATION_FAILED', `callback URL refused: it ${message.slice(3)}`, { details: [{ path, message }] });
    }
  };
}
