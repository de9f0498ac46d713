// Server lines as the terminal client shows them: their kind (from the protocol's prefixes), colours,
// control characters made harmless, and the splitting of a byte stream into lines.
export type LineKind = 'notice' | 'error' | 'reply' | 'pm' | 'action' | 'chat' | 'other';

/** The kind of a server line, from its first bytes (docs/protocol.md). */
export function classifyLine(line: string): LineKind {
  if (line.startsWith('>> ')) return 'notice';
  if (line.startsWith('!! ')) return 'error';
  if (line.startsWith('== ')) return 'reply';
  if (line.startsWith('[pm ')) return 'pm';
  if (line.startsWith('* ')) return 'action';
  if (/^[^\s:[*!=>]+: /.test(line)) return 'chat';
  return 'other';
}

const SGR: Record<Exclude<LineKind, 'chat' | 'other'>, string> = {
  notice: '36', // cyan
  error: '1;31', // bold red
  reply: '32', // green
  pm: '35', // magenta
  action: '33', // yellow
};

const paintWith = (codes: string, s: string) => `\x1b[${codes}m${s}\x1b[0m`;

/** Colours a line by kind (chat: the nick in bold). */
export function colourLine(line: string): string {
  const kind = classifyLine(line);
  if (kind === 'other') return line;
  if (kind === 'chat') {
    const i = line.indexOf(': ');
    return paintWith('1', line.slice(0, i + 1)) + line.slice(i + 1);
  }
  return paintWith(SGR[kind], line);
}

/** Control characters other than tab are shown as U+FFFD, so no line can drive the terminal (the server
 *  refuses them already; this is defence in depth). */
export function sanitize(line: string): string {
  return line.replace(/[\x00-\x08\x0a-\x1f\x7f\x80-\x9f]/g, '\ufffd');
}

/** Splits a stream of text into lines (`\n` or `\r\n`); `flush` returns a last unterminated line. */
export class LineSplitter {
  #rest = '';
  push(chunk: string): string[] {
    const parts = (this.#rest + chunk).split('\n');
    this.#rest = parts.pop()!;
    return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }
  flush(): string | undefined {
    const rest = this.#rest;
    this.#rest = '';
    return rest === '' ? undefined : rest;
  }
}
