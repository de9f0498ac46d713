// Offline mailboxes (store and forward). `/msg NICK TEXT` to an account that is offline is stored, and
// the sender is told so only once the storage has made it durable. `/unread` counts, `/read` delivers
// every unread message as a MAIL list (rows TIME FROM TEXT), then marks them read.
import { error, list, notice, pm, pmSent, type CommandContext } from './plugin.js';
import { plural, type Hub } from './hub.js';

/** ISO 8601 UTC to the second: 2026-11-22T10:00:00Z. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** How many messages one `/read` delivers at most (the rest stay unread for the next). */
const READ_BATCH = 10_000;

export class Mailbox {
  #hub: Hub;

  constructor(hub: Hub) {
    this.#hub = hub;
  }

  /** `/msg NICK TEXT` that the engine could not deliver (NICK was not online when it looked). */
  async msg(ctx: CommandContext, to: string, text: string): Promise<void> {
    const hub = this.#hub;
    const from = ctx.nick!;
    if (!to) return ctx.reply(error('USAGE', '/msg NICK TEXT'));
    if (!text.trim()) return ctx.reply(error('EMPTY', 'nothing to send'));
    // They may have come online since the engine looked.
    if ((await hub.deliver([to], pm(from, text))).length === 0) {
      ctx.reply(pmSent(to, text));
      return;
    }
    const account = await hub.storage.getAccount(to);
    if (!account) return ctx.reply(error('NO_SUCH_USER', `no user named ${to} is online`));
    let r;
    try {
      r = await hub.storage.storeMail([account.key], { from, group: null, text, sentAt: hub.now() }, hub.config.mailboxMax);
    } catch (err) {
      hub.log.error({ err, to: account.key }, 'storing a message failed');
      return ctx.reply(error('STORAGE_ERROR', `the message to ${account.name} could not be stored; it was not sent`));
    }
    if (r.stored.length === 1) return ctx.reply(notice(`Message stored for ${account.name} (offline)`));
    if (r.full.length === 1) {
      return ctx.reply(error('MAILBOX_FULL', `the mailbox of ${account.name} is full (${hub.config.mailboxMax} unread messages); it was not sent`));
    }
    // Deleted between the lookup and the store.
    ctx.reply(error('NO_SUCH_USER', `no user named ${to} is online`));
  }

  async unread(ctx: CommandContext, account: string): Promise<void> {
    const n = await this.#hub.storage.unreadCount(account);
    ctx.reply(notice(plural(n, 'unread message')));
  }

  /** Delivers, then marks read: a crash in between delivers again rather than losing anything. */
  async read(ctx: CommandContext, account: string): Promise<void> {
    const hub = this.#hub;
    const mail = await hub.storage.unreadMail(account, READ_BATCH);
    ctx.reply(list('MAIL', mail.map((m) => [isoSeconds(m.sentAt), m.group === null ? m.from : `${m.from}@${m.group}`, m.text])));
    if (mail.length > 0) await hub.storage.markRead(account, mail[mail.length - 1]!.id, hub.now(), hub.config.mailboxMax);
  }
}
