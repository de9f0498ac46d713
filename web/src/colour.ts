// Nick colours: a stable hue from a hash of the (case-folded) nick.
import { foldCase } from './irc.js';

/** FNV-1a, 32 bits. */
export function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A hue in degrees; the stylesheet picks lightness and saturation for light and dark schemes. */
export function nickHue(nick: string): number {
  return hash(foldCase(nick)) % 360;
}

export function initial(nick: string): string {
  const m = /[\p{L}\p{N}]/u.exec(nick);
  return (m ? m[0] : nick[0] ?? '?').toUpperCase();
}
