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

/**
 * Hues that stay apart from each other and read well as text on light and dark backgrounds
 * (the stylesheet picks lightness and saturation per scheme).
 */
const HUES = [4, 24, 40, 88, 140, 165, 188, 205, 222, 250, 275, 300, 322, 345];

/** A hue in degrees for a nick: the same nick always gets the same colour. */
export function nickHue(nick: string): number {
  return HUES[hash(foldCase(nick)) % HUES.length]!;
}

export function initial(nick: string): string {
  const m = /[\p{L}\p{N}]/u.exec(nick);
  return (m ? m[0] : nick[0] ?? '?').toUpperCase();
}
