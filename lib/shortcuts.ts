// The terminal client's shortcuts: the commands of the seed 002 client (`@user text`, `?`, `read`,
// `group=u1+u2`, `group+=u`), each spelled out as the server command it stands for. Pure functions: the
// client decides when they apply (only to what a person types at a terminal, once past the nickname
// and password steps).

/** A nickname or group name, as the server accepts them (docs/protocol.md). */
const NAME = '[A-Za-z0-9_-]{1,32}';
const MESSAGE = new RegExp(`^@(${NAME})\\s+(\\S.*)$`);
// As the seed client wrote them, without blanks (so `x = y` stays a chat line).
const CREATE = new RegExp(`^@?(${NAME})=(${NAME}(?:\\+${NAME})*)$`);
const ADD = new RegExp(`^@?(${NAME})\\+=(${NAME}(?:\\+${NAME})*)$`);

/** What `/help` in the client shows before the server's own help. */
export const SHORTCUT_HELP: readonly string[] = [
  'client shortcuts, and the server command each one sends:',
  '  @NICK TEXT   /msg NICK TEXT          a private message',
  '  @GROUP TEXT  /msg @GROUP TEXT        a message to a group you are in',
  '  ?            /unread                 how many messages wait for you',
  '  read         /read                   read them',
  '  G=U1+U2…     /group create G U1 U2…  create a group',
  '  G+=U1+U2…    /group add G U1, …      add members to a group',
  '  \\LINE        LINE, as it is          e.g. \\? sends "?" to the room',
  'server commands:',
];

/** `"text"` → `text` (the seed client quoted messages); anything else as it is. */
function unquote(text: string): string {
  const t = text.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : text;
}

const names = (list: string) => list.split('+');

/**
 * The server lines a typed line stands for, or null when it is no shortcut (then it is sent as typed).
 * `isGroup(name)` says whether `@name` means one of the user's groups rather than a user.
 * A line starting with `\` is never a shortcut: the `\` is dropped when the rest would have been one.
 */
export function expandShortcut(line: string, isGroup: (name: string) => boolean): string[] | null {
  if (line.startsWith('\\')) return expandShortcut(line.slice(1), isGroup) === null ? null : [line.slice(1)];
  const t = line.trim();
  if (t === '?') return ['/unread'];
  if (t.toLowerCase() === 'read') return ['/read'];
  // The group forms first: `@team=a+b` is one, not a message.
  let m = ADD.exec(t);
  if (m) return names(m[2]!).map((user) => `/group add ${m![1]} ${user}`);
  m = CREATE.exec(t);
  if (m) return [`/group create ${m[1]} ${names(m[2]!).join(' ')}`];
  m = MESSAGE.exec(t);
  if (m) {
    const [, name, text] = m as unknown as [string, string, string];
    return [isGroup(name) ? `/msg @${name} ${unquote(text)}` : `/msg ${name} ${unquote(text)}`];
  }
  return null;
}

/** Commands whose arguments hold a password, and how many words come before the first secret one. */
const SECRET_AFTER: Readonly<Record<string, number>> = { '/register': 1, '/login': 1, '/passwd': 0, '/unregister': 0 };

/**
 * Where the secret part of a typed line starts (a UTF-16 index), or -1 when it holds no password:
 * `/register NAME PASSWORD`, `/login NAME PASSWORD`, `/passwd OLD NEW`, `/unregister PASSWORD`.
 * The index is where the password would start while it is being typed, so it can be hidden from the
 * first character on.
 */
export function secretStart(line: string): number {
  const m = /^(\s*)(\/\S+)/.exec(line);
  if (!m) return -1;
  const skip = SECRET_AFTER[m[2]!.toLowerCase()];
  if (skip === undefined) return -1;
  let i = m[0].length;
  // The command word must be complete (followed by a blank) before anything is secret.
  if (i >= line.length) return -1;
  for (let word = 0; word < skip; word++) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    while (i < line.length && !/\s/.test(line[i]!)) i++;
    if (i >= line.length) return -1;
  }
  return i;
}
