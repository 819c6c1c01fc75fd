/**
 * SSRF protection for outbound callbacks. A task's `callbackUrl` is chosen by whoever submits the
 * task, so Berth must not let it reach loopback, private networks or a cloud metadata endpoint,
 * except addresses an operator has allow-listed.
 *
 * The check that matters runs at *connect* time, on the addresses the connection will use
 * (`createGuardedFetch`): checking a URL at submission (`checkCallbackUrl`) is only early
 * feedback, since a name can resolve to a public address then and to 10.0.0.1 later (DNS
 * rebinding). Uses node:http(s) with a `lookup` hook rather than fetch: Node's bundled undici
 * exposes no `Agent`, and node:http never follows redirects, which callbacks must not do.
 */
import { promises as dns, type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';

export type AddressCategory = 'public' | 'loopback' | 'private' | 'link-local' | 'metadata' | 'unspecified' | 'multicast' | 'reserved';

type Address = { version: 4 | 6; value: bigint };
type Range = Address & { bits: number };

const WIDTH = { 4: 32n, 6: 128n } as const;

function parseIPv4(ip: string): bigint {
  return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

/** 128-bit value of a valid IPv6 text (`::` compression and a dotted IPv4 tail allowed). */
function parseIPv6(ip: string): bigint {
  let text = ip;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (tail !== undefined) {
    const v4 = parseIPv4(tail);
    text = `${text.slice(0, -tail.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** Parses an IP literal (brackets and an IPv6 zone such as `%eth0` are dropped); undefined if not one. */
function parseAddress(ip: string): Address | undefined {
  const text = ip.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const version = isIP(text);
  if (version === 4) return { version, value: parseIPv4(text) };
  if (version === 6) return { version, value: parseIPv6(text) };
  return undefined;
}

function parseRange(cidr: string): Range {
  const [ip = '', prefix, extra] = cidr.split('/');
  const address = parseAddress(ip);
  const bits = prefix === undefined ? undefined : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (address === undefined || extra !== undefined || (bits !== undefined && !(bits <= Number(WIDTH[address.version])))) {
    throw new Error(`"${cidr}" is not an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8)`);
  }
  return { ...address, bits: bits ?? Number(WIDTH[address.version]) };
}

function contains(range: Range, address: Address): boolean {
  if (range.version !== address.version) return false;
  const shift = WIDTH[address.version] - BigInt(range.bits);
  return range.value >> shift === address.value >> shift;
}

// First match wins, so the specific ranges (metadata inside link-local, 0.0.0.0 inside 0/8)
// come before the ranges that contain them.
const CATEGORY_RANGES: readonly (readonly [AddressCategory, Range])[] = (
  [
    ['metadata', ['169.254.169.254/32', 'fd00:ec2::254/128']],
    ['unspecified', ['0.0.0.0/32', '::/128']],
    ['loopback', ['127.0.0.0/8', '::1/128']],
    ['link-local', ['169.254.0.0/16', 'fe80::/10']],
    // 100.64/10 is carrier-grade NAT, fec0::/10 the deprecated site-local, 64:ff9b:1::/48 local NAT64.
    ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7', 'fec0::/10', '64:ff9b:1::/48']],
    ['multicast', ['224.0.0.0/4', 'ff00::/8']],
    // Special-purpose blocks (IANA registries): "this network", class E and broadcast, protocol
    // assignments, documentation, benchmarking, 6to4/Teredo relays (which can tunnel anywhere).
    ['reserved', ['0.0.0.0/8', '240.0.0.0/4', '192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '198.18.0.0/15',
      '198.51.100.0/24', '203.0.113.0/24', '::/96', '100::/64', '2001::/23', '2001:db8::/32', '2002::/16', '3fff::/20']],
  ] as const
).flatMap(([category, cidrs]) => cidrs.map((cidr) => [category, parseRange(cidr)] as const));

const GLOBAL_UNICAST_V6 = parseRange('2000::/3');
// IPv4-mapped (::ffff:a.b.c.d) and well-known NAT64 (64:ff9b::a.b.c.d) addresses reach the IPv4
// address in their low 32 bits, so they are judged as that address.
const EMBEDS_IPV4 = [parseRange('::ffff:0:0/96'), parseRange('64:ff9b::/96')];

function embeddedIPv4(address: Address): Address | undefined {
  return EMBEDS_IPV4.some((range) => contains(range, address)) ? { version: 4, value: address.value & 0xffffffffn } : undefined;
}

function categorize(address: Address): AddressCategory {
  const inner = embeddedIPv4(address);
  if (inner !== undefined) return categorize(inner);
  const match = CATEGORY_RANGES.find(([, range]) => contains(range, address));
  if (match !== undefined) return match[0];
  // Only 2000::/3 is allocated as global unicast; anything else is not a place for a callback.
  return address.version === 6 && !contains(GLOBAL_UNICAST_V6, address) ? 'reserved' : 'public';
}

/** What kind of address `ip` is. Throws on text that is not an IP address. */
export function classifyAddress(ip: string): AddressCategory {
  const address = parseAddress(ip);
  if (address === undefined) throw new Error(`"${ip}" is not an IP address`);
  return categorize(address);
}

export type AllowList = { allows(host: string, ip: string): boolean };

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

/**
 * Operator-configured exceptions. An IP or CIDR entry allows exactly the addresses it covers
 * (compared also as the IPv4 inside an IPv4-mapped address). A hostname entry allows whatever
 * that name resolves to, except a metadata address: trusting a name's DNS is not meant to hand
 * out cloud credentials; list 169.254.169.254 itself to allow that. Throws on an invalid entry.
 */
export function createAllowList(entries: readonly string[]): AllowList {
  const ranges: Range[] = [];
  const hosts = new Set<string>();
  for (const entry of entries) {
    const text = entry.trim();
    if (text.includes('/') || parseAddress(text) !== undefined) ranges.push(parseRange(text));
    else if (HOSTNAME.test(normalizeHost(text))) hosts.add(normalizeHost(text));
    else throw new Error(`callback allow-list entry "${entry}" is not an IP address, a CIDR range or a hostname`);
  }
  return {
    allows(host, ip) {
      const address = parseAddress(ip);
      if (address === undefined) return false;
      const inner = embeddedIPv4(address);
      if (ranges.some((range) => contains(range, address) || (inner !== undefined && contains(range, inner)))) return true;
      return hosts.has(normalizeHost(host)) && categorize(address) !== 'metadata';
    },
  };
}

export type Lookup = (host: string) => Promise<{ address: string; family: number }[]>;

type Target = { url: URL; host: string };

function parseCallbackUrl(text: string): Target | { message: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { message: 'callback URL is not a valid absolute URL' };
  }
  const host = normalizeHost(url.hostname);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { message: `callback URL for host "${host}" must use http or https, not ${url.protocol.slice(0, -1)}` };
  }
  if (url.username !== '' || url.password !== '') {
    return { message: `callback URL for host "${host}" must not contain credentials (user:password@)` };
  }
  return { url, host };
}

/** Why connecting to `host` at these addresses is refused, or undefined when every one is fine. */
function refusalFor(host: string, addresses: readonly { address: string }[], allow: AllowList): string | undefined {
  if (addresses.length === 0) return `callback URL host "${host}" resolved to no address`;
  for (const { address } of addresses) {
    const parsed = parseAddress(address);
    const category = parsed === undefined ? 'reserved' : categorize(parsed);
    if (category !== 'public' && !allow.allows(host, address)) {
      return `callback URL host "${host}" resolves to ${address}, a ${category} address; `
        + 'only public addresses are allowed unless listed in the callback allow-list';
    }
  }
  return undefined;
}

/** An IP-literal host is its own (only) address; net never calls `lookup` for one. */
function literalRefusal(host: string, allow: AllowList): string | undefined {
  return isIP(host) === 0 ? undefined : refusalFor(host, [{ address: host }], allow);
}

/**
 * Early feedback for a submitted `callbackUrl`: http(s), no credentials, and every address the
 * host resolves to public or allow-listed. Refusing when *any* address is bad matters: the
 * connection may use any of them.
 */
export async function checkCallbackUrl(
  url: string,
  options: { lookup: Lookup; allow: AllowList },
): Promise<{ ok: true } | { ok: false; message: string }> {
  const target = parseCallbackUrl(url);
  if ('message' in target) return { ok: false, message: target.message };
  let refusal = literalRefusal(target.host, options.allow);
  if (isIP(target.host) === 0) {
    try {
      refusal = refusalFor(target.host, await options.lookup(target.host), options.allow);
    } catch (error) {
      refusal = `callback URL host "${target.host}" could not be resolved: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return refusal === undefined ? { ok: true } : { ok: false, message: refusal };
}

export type CallbackDeliveryReason = 'invalid_url' | 'refused_address' | 'timeout' | 'network';

export class CallbackDeliveryError extends Error {
  readonly reason: CallbackDeliveryReason;

  constructor(reason: CallbackDeliveryReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CallbackDeliveryError';
    this.reason = reason;
  }
}

const systemLookup: Lookup = (host) => dns.lookup(host, { all: true });

/** Net's `lookup` hook: resolves, refuses the whole connection if any address is not allowed,
 *  then answers in the shape net asked for (one address, or all of them for Happy Eyeballs). */
function guardedLookup(host: string, lookup: Lookup, allow: AllowList): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family || 0;
    lookup(hostname).then((addresses) => {
      const refusal = refusalFor(host, addresses, allow);
      if (refusal !== undefined) return callback(new CallbackDeliveryError('refused_address', refusal), '');
      const usable: LookupAddress[] = addresses.filter((a) => family === 0 || a.family === family).map(({ address, family }) => ({ address, family }));
      const first = usable[0];
      if (first === undefined) return callback(Object.assign(new Error(`no IPv${family} address for "${hostname}"`), { code: 'ENOTFOUND' }), '');
      return options.all ? callback(null, usable) : callback(null, first.address, first.family);
    }, (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), ''));
  };
}

/** The first `limit` bytes of a response body as text; the rest is never read (the socket is closed). */
function readLimited(response: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => resolve(Buffer.concat(chunks).toString('utf8'));
    response.on('data', (chunk: Buffer) => {
      chunks.push(chunk.subarray(0, limit - size));
      size = Math.min(limit, size + chunk.length);
      if (size >= limit) done();
    });
    response.on('end', done);
    response.on('error', reject);
    response.on('close', () => reject(new Error('connection closed before the response ended')));
  });
}

type Delivery = { method: 'POST'; headers: Record<string, string>; body: string };
export type GuardedFetch = (url: string, init: Delivery) => Promise<{ status: number; body: string }>;

const RESPONSE_BODY_LIMIT = 64 * 1024;

/**
 * A POST that connects only to checked addresses: IP literals are checked up front, names inside
 * the connection's own lookup. `agent: false` gives every delivery a fresh connection, so no
 * pooled socket skips the check. Redirects are returned, never followed. `timeoutMs` bounds
 * everything from lookup to the last byte read. Failures throw CallbackDeliveryError; any HTTP
 * status, 3xx to 5xx included, is a returned response.
 */
export function createGuardedFetch(options: { allow: AllowList; lookup?: Lookup; timeoutMs: number }): GuardedFetch {
  if (!(options.timeoutMs > 0)) throw new Error(`callback timeout must be a positive number of ms, got ${options.timeoutMs}`);
  const lookup = options.lookup ?? systemLookup;
  return async (url, init) => {
    const target = parseCallbackUrl(url);
    if ('message' in target) throw new CallbackDeliveryError('invalid_url', target.message);
    const refusal = literalRefusal(target.host, options.allow);
    if (refusal !== undefined) throw new CallbackDeliveryError('refused_address', refusal);
    return post(target, init, guardedLookup(target.host, lookup, options.allow), options.timeoutMs);
  };
}

function post(target: Target, init: Delivery, lookup: LookupFunction, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const send = target.url.protocol === 'https:' ? https.request : http.request;
    const headers = { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) };
    const request = send(target.url, { method: init.method, headers, lookup, agent: false });
    // The promise settles once: whichever of timeout, error or complete response comes first wins.
    const timer = setTimeout(() => {
      reject(new CallbackDeliveryError('timeout', `callback to host "${target.host}" did not complete within ${timeoutMs} ms`));
      request.destroy();
    }, timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      const message = `callback to host "${target.host}" failed: ${error.message}`;
      reject(error instanceof CallbackDeliveryError ? error : new CallbackDeliveryError('network', message, { cause: error }));
      request.destroy();
    };
    request.on('error', fail);
    request.on('response', (response) => {
      readLimited(response, RESPONSE_BODY_LIMIT).then((body) => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, body });
        request.destroy();
      }, fail);
    });
    request.end(init.body);
  });
}
