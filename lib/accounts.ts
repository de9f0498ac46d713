// Passwords and failed-login throttling. Hashing runs in libuv's thread pool (the async scrypt), never on
// the engine's thread and never blocking the JavaScript thread; comparisons are constant-time.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptParams {
  /** CPU/memory cost, a power of two (OWASP: at least 2^14 with r = 8, p = 1 — 16 MiB). */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelization. */
  p: number;
}

export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ N: 16384, r: 8, p: 1 });

const SALT_BYTES = 16;
const KEY_BYTES = 32;
const SCHEME = 'scrypt';

function derive(password: string, salt: Buffer, params: ScryptParams, keylen: number): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; Node refuses above maxmem (32 MiB by default).
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + (1 << 20) };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** `scrypt$N$r$p$SALT$HASH` (base64), with a fresh random salt. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params, KEY_BYTES);
  return [SCHEME, params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

interface Parsed { params: ScryptParams; salt: Buffer; key: Buffer }

function parseHash(encoded: string): Parsed | null {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== SCHEME) return null;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0)) return null;
  const salt = Buffer.from(parts[4]!, 'base64');
  const key = Buffer.from(parts[5]!, 'base64');
  if (salt.length === 0 || key.length === 0) return null;
  return { params: { N, r, p }, salt, key };
}

/** True when `password` matches `encoded` (the parameters come from the hash, so raising the cost for
 *  new passwords keeps old ones valid). A malformed hash never matches. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parseHash(encoded);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.params, parsed.key.length);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

/** A hash of nothing anyone knows, for spending the same time on unknown accounts as on known ones. */
export async function dummyHash(params: ScryptParams): Promise<string> {
  return hashPassword(randomBytes(18).toString('base64'), params);
}

/** The cost parameters of an encoded hash (null if malformed). */
export function hashParams(encoded: string): ScryptParams | null {
  return parseHash(encoded)?.params ?? null;
}

// ---------------------------------------------------------------------------------------------------
// Passwords as typed

export const PASSWORD_MAX = 128;

/** Null when acceptable, else why not. Passwords are one word (commands split on spaces). */
export function passwordProblem(password: string, minLength: number): string | null {
  if ([...password].length < minLength) return `passwords need at least ${minLength} characters`;
  if ([...password].length > PASSWORD_MAX) return `passwords have at most ${PASSWORD_MAX} characters`;
  if (/\s/.test(password)) return 'passwords cannot contain spaces';
  return null;
}

// ---------------------------------------------------------------------------------------------------
// Throttling

/** Failed attempts per key (a connection, an account) in a sliding window. An attempt is charged as a
 *  failure before the password is checked and refunded on success, so attempts racing in parallel
 *  (several connections, one account) cannot exceed the limit. */
export class LoginThrottle {
  #hits = new Map<string, number[]>();
  readonly now: () => number;

  constructor(
    public maxFailures: number,
    public windowMs: number,
    now: () => number = Date.now,
  ) {
    this.now = now;
  }

  #live(key: string): number[] {
    const hits = this.#hits.get(key);
    if (!hits) return [];
    const since = this.now() - this.windowMs;
    while (hits.length > 0 && hits[0]! <= since) hits.shift();
    if (hits.length === 0) this.#hits.delete(key);
    return hits;
  }

  /** Milliseconds until `key` may try again (0: now). */
  blockedFor(key: string): number {
    const hits = this.#live(key);
    if (hits.length < this.maxFailures) return 0;
    return Math.max(1, hits[hits.length - this.maxFailures]! + this.windowMs - this.now());
  }

  /** The longest wait among `keys` (0 when none is throttled). */
  check(keys: readonly string[]): number {
    return Math.max(0, ...keys.map((k) => this.blockedFor(k)));
  }

  /** Charges one failure to each key; returns a token for refund(). */
  charge(keys: readonly string[]): { keys: readonly string[]; at: number } {
    const at = this.now();
    for (const k of keys) {
      const hits = this.#hits.get(k);
      if (hits) hits.push(at); else this.#hits.set(k, [at]);
    }
    return { keys, at };
  }

  /** Takes back a charge (the attempt succeeded). */
  refund(token: { keys: readonly string[]; at: number }): void {
    for (const k of token.keys) {
      const hits = this.#hits.get(k);
      if (!hits) continue;
      const i = hits.lastIndexOf(token.at);
      if (i >= 0) hits.splice(i, 1);
      if (hits.length === 0) this.#hits.delete(k);
    }
  }

  /** Forgets a key (a connection that closed). */
  forget(key: string): void {
    this.#hits.delete(key);
  }

  /** Drops expired entries (called periodically). */
  sweep(): void {
    for (const k of [...this.#hits.keys()]) this.#live(k);
  }

  get size(): number {
    return this.#hits.size;
  }
}
