// IRC message parsing and formatting (RFC 1459/2812 framing with IRCv3 message tags).
// One WebSocket text message carries one IRC line without CR LF (IRCv3 websocket spec).

export interface IrcMessage {
  tags: Map<string, string>;
  /** Source: "nick!user@host" or a server name; "" when absent. */
  prefix: string;
  /** Upper-cased command or three-digit numeric. */
  command: string;
  params: string[];
}

const TAG_UNESCAPES: Record<string, string> = { ':': ';', s: ' ', '\\': '\\', r: '\r', n: '\n' };

function unescapeTagValue(v: string): string {
  return v.replace(/\\(.?)/g, (_m, c: string) => (c === '' ? '' : TAG_UNESCAPES[c] ?? c));
}

/** Parses one line; returns null for a line that has no command. */
export function parseLine(raw: string): IrcMessage | null {
  let line = raw.replace(/[\r\n]+$/, '');
  const tags = new Map<string, string>();
  if (line.startsWith('@')) {
    const sp = line.indexOf(' ');
    if (sp < 0) return null;
    for (const part of line.slice(1, sp).split(';')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      if (eq < 0) tags.set(part, '');
      else tags.set(part.slice(0, eq), unescapeTagValue(part.slice(eq + 1)));
    }
    line = line.slice(sp + 1).replace(/^ +/, '');
  }
  let prefix = '';
  if (line.startsWith(':')) {
    const sp = line.indexOf(' ');
    if (sp < 0) return null;
    prefix = line.slice(1, sp);
    line = line.slice(sp + 1).replace(/^ +/, '');
  }
  const params: string[] = [];
  let command = '';
  while (line.length > 0) {
    if (command && line.startsWith(':')) {
      params.push(line.slice(1));
      break;
    }
    const sp = line.indexOf(' ');
    const word = sp < 0 ? line : line.slice(0, sp);
    if (!command) command = word.toUpperCase();
    else params.push(word);
    line = sp < 0 ? '' : line.slice(sp + 1).replace(/^ +/, '');
  }
  if (!command) return null;
  return { tags, prefix, command, params };
}

/** Strips what would end or corrupt a line (CR, LF, NUL). */
function clean(s: string): string {
  return s.replace(/[\r\n\0]/g, ' ');
}

/**
 * Formats a command. The last parameter is sent as a trailing parameter (":...") when it is empty,
 * contains a space or starts with ':'; earlier parameters must be single words and have spaces removed.
 */
export function formatLine(command: string, ...params: string[]): string {
  const out = [command];
  params.forEach((p, i) => {
    const v = clean(p);
    if (i === params.length - 1 && (v === '' || v.includes(' ') || v.startsWith(':'))) out.push(':' + v);
    else out.push(v.replace(/ /g, '').replace(/^:/, '') || '*');
  });
  return out.join(' ');
}

/** The nick part of a prefix ("nick!user@host" → "nick"). */
export function nickOf(prefix: string): string {
  const bang = prefix.indexOf('!');
  return bang < 0 ? prefix : prefix.slice(0, bang);
}

/** True for a prefix that names a server rather than a user. */
export function isServerPrefix(prefix: string): boolean {
  return prefix === '' || (!prefix.includes('!') && prefix.includes('.'));
}

export function isChannel(name: string): boolean {
  return name.length > 1 && (name[0] === '#' || name[0] === '&');
}

export type CaseMapping = 'rfc1459' | 'ascii';

let caseMapping: CaseMapping = 'rfc1459';

/**
 * The server's case mapping, from ISUPPORT (005) CASEMAPPING: `ascii` folds A-Z only (epchat), any
 * other value is treated as `rfc1459`, the default on IRC networks.
 */
export function setCaseMapping(name: string): CaseMapping {
  caseMapping = name.toLowerCase() === 'ascii' ? 'ascii' : 'rfc1459';
  return caseMapping;
}

/** Folds a nick or room name by the server's case mapping (rfc1459 also folds []\~ to {}|^). */
export function foldCase(s: string): string {
  const lower = s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  if (caseMapping === 'ascii') return lower;
  return lower.replace(/[[\]\\~]/g, (c) => ({ '[': '{', ']': '}', '\\': '|', '~': '^' })[c] ?? c);
}

export interface Ctcp {
  verb: string;
  text: string;
}

/** Splits a CTCP message (\x01VERB text\x01); null for ordinary text. */
export function parseCtcp(text: string): Ctcp | null {
  if (text.length < 2 || text[0] !== '\x01') return null;
  const body = text.slice(1).replace(/\x01$/, '');
  const sp = body.indexOf(' ');
  return sp < 0 ? { verb: body.toUpperCase(), text: '' } : { verb: body.slice(0, sp).toUpperCase(), text: body.slice(sp + 1) };
}

const encoder = new TextEncoder();

/**
 * Splits text into pieces of at most maxBytes UTF-8 bytes, preferring to cut at a space and never
 * inside a character, so that each piece fits into one IRC line.
 */
export function splitForLine(text: string, maxBytes: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (encoder.encode(rest).length > maxBytes) {
    let bytes = 0;
    let cut = 0;
    let lastSpace = -1;
    for (const ch of rest) {
      const n = encoder.encode(ch).length;
      if (bytes + n > maxBytes) break;
      bytes += n;
      cut += ch.length;
      if (ch === ' ') lastSpace = cut;
    }
    const at = lastSpace > cut / 2 ? lastSpace : cut;
    out.push(rest.slice(0, at).trimEnd());
    rest = rest.slice(at).trimStart();
  }
  if (rest.length > 0 || out.length === 0) out.push(rest);
  return out;
}

/** Base64 of a UTF-8 string (SASL PLAIN payloads). */
export function base64Utf8(s: string): string {
  let bin = '';
  for (const b of encoder.encode(s)) bin += String.fromCharCode(b);
  return btoa(bin);
}
