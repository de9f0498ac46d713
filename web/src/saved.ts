// What the browser remembers between visits (localStorage): the last nickname, and the rooms each
// nickname was in, so that reopening the page puts the user back in their rooms. Never a password.
import { foldCase, isChannel } from './irc.js';

const NICK_KEY = 'epchat.nick';
const ROOMS_PREFIX = 'epchat.rooms.';
/** Bounded: the server allows 50 channels; a corrupt or foreign value is ignored. */
const MAX_ROOMS = 50;

/** localStorage, or null where it is unavailable (private modes, storage disabled). */
function store(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function loadNick(): string {
  return store()?.getItem(NICK_KEY) ?? '';
}

export function saveNick(nick: string): void {
  try {
    store()?.setItem(NICK_KEY, nick);
  } catch {
    /* full or refused: remembering is a convenience */
  }
}

/** The rooms this nickname was in when the page was last online, in the order they were joined. */
export function loadRooms(nick: string): string[] {
  const raw = store()?.getItem(ROOMS_PREFIX + foldCase(nick));
  if (!raw) return [];
  try {
    const v: unknown = JSON.parse(raw);
    if (!Array.isArray(v)) return [];
    return v.filter((r): r is string => typeof r === 'string' && isChannel(r) && !/[\s,\0]/.test(r)).slice(0, MAX_ROOMS);
  } catch {
    return [];
  }
}

export function saveRooms(nick: string, rooms: readonly string[]): void {
  try {
    store()?.setItem(ROOMS_PREFIX + foldCase(nick), JSON.stringify(rooms.slice(0, MAX_ROOMS)));
  } catch {
    /* as saveNick */
  }
}
