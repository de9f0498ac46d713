// Argument checks for the public API (ChatServer's methods): a bad argument throws EpchatError
// EPCHAT_INVALID_ARGUMENT before anything reaches the engine, so a caller's mistake never turns into
// extra or malformed protocol lines.
import { EpchatError, ErrorCodes } from './errors.js';

/** C0 controls but tab, DEL, C1 controls: never part of a protocol line. Newline is checked apart. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function invalid(what: string, problem: string): EpchatError {
  return new EpchatError(ErrorCodes.INVALID_ARGUMENT, `${what} ${problem}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value) : `a ${typeof value}`;
}

export interface TextRules {
  /** `\n` separates lines (send): allowed, but no empty text. Default: one line, no newline. */
  multiline?: boolean;
  /** The empty string is accepted (deliver's "who is offline" form). */
  allowEmpty?: boolean;
}

/** `value` must be a string of protocol text: no control character but tab, no newline (unless
 *  multiline; never `\r`), no lone surrogate (it would reach clients as U+FFFD). */
export function checkText(what: string, value: unknown, rules: TextRules = {}): string {
  if (typeof value !== 'string') throw invalid(what, `must be a string, got ${describe(value)}`);
  if (value.length === 0 && !rules.allowEmpty) throw invalid(what, 'must not be empty');
  if (!rules.multiline && value.includes('\n')) throw invalid(what, 'must be one line (no newline)');
  if (value.includes('\r') || CONTROL.test(value)) throw invalid(what, 'must not contain control characters');
  if (LONE_SURROGATE.test(value)) throw invalid(what, 'must be well-formed Unicode (no lone surrogate)');
  return value;
}

/** `value` must be an array of strings without control characters or newlines. */
export function checkStringList(what: string, value: unknown): string[] {
  if (!Array.isArray(value)) throw invalid(what, `must be an array of strings, got ${describe(value)}`);
  return value.map((v, i) => checkText(`${what}[${i}]`, v));
}

/** A client id as the engine's events give it (a non-negative safe integer). */
export function checkClientId(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(what, `must be a client id from an event, got ${describe(value)}`);
  }
  return value;
}

export function checkFunction(what: string, value: unknown): void {
  if (typeof value !== 'function') throw invalid(what, `must be a function, got ${describe(value)}`);
}
