// Checks structured host lines (lib/native.ts HostLine) the way the binding and the engine do
// (native/core/host_api.cc), so a bad one throws EPCHAT_INVALID_ARGUMENT in the caller's stack, before
// anything is queued, with the field named (`reply(lines[0].code)`).
import type { HostLine } from './native.js';
import { checkText } from './args.js';
import { EpchatError, ErrorCodes } from './errors.js';

const NAME = /^[A-Z][A-Z0-9_]{0,31}$/;

function invalid(what: string, problem: string): EpchatError {
  return new EpchatError(ErrorCodes.INVALID_ARGUMENT, `${what} ${problem}`);
}

function name(what: string, v: unknown): void {
  if (typeof v !== 'string' || !NAME.test(v)) throw invalid(what, 'must be 1-32 of A-Z 0-9 _ starting with a letter');
}

function word(what: string, v: unknown): void {
  checkText(what, v);
  if (/[ \t]/.test(v as string)) throw invalid(what, 'must be one word (no blanks)');
}

function time(what: string, v: unknown): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) {
    throw invalid(what, 'must be a time in ms since the epoch');
  }
}

/** One line, checked; returns it. */
export function checkLine(what: string, l: unknown): HostLine {
  if (l === null || typeof l !== 'object' || Array.isArray(l)) throw invalid(what, 'must be a line object ({ type: \'notice\', text } …)');
  const o = l as Record<string, unknown>;
  const text = () => checkText(`${what}.text`, o.text, { allowEmpty: true });
  switch (o.type) {
    case 'notice': text(); break;
    case 'error': name(`${what}.code`, o.code); text(); break;
    case 'list': {
      name(`${what}.kind`, o.kind);
      if (o.end !== undefined) name(`${what}.end`, o.end);
      if (!Array.isArray(o.rows)) throw invalid(`${what}.rows`, 'must be an array of rows (arrays of strings)');
      o.rows.forEach((row: unknown, i: number) => {
        const w = `${what}.rows[${i}]`;
        if (!Array.isArray(row) || row.length === 0) throw invalid(w, 'must be a non-empty array of strings');
        row.forEach((f: unknown, j: number) => (j + 1 < row.length ? word : checkText)(`${w}[${j}]`, f));
      });
      break;
    }
    case 'pm': word(`${what}.from`, o.from); text(); time(`${what}.time`, o.time); break;
    case 'pmSent': word(`${what}.to`, o.to); text(); break;
    case 'group': word(`${what}.from`, o.from); word(`${what}.group`, o.group); text(); time(`${what}.time`, o.time); break;
    default: throw invalid(`${what}.type`, "must be one of 'notice', 'error', 'list', 'pm', 'pmSent', 'group'");
  }
  return o as HostLine;
}

/** A line or an array of lines (undefined: none), checked; returns the array. */
export function checkLines(what: string, lines: unknown): HostLine[] {
  if (lines === undefined) return [];
  const list = Array.isArray(lines) ? lines : [lines];
  return list.map((l, i) => checkLine(`${what}[${i}]`, l));
}
