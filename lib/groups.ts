// Groups (multicast): named, persistent lists of accounts. `/msg @NAME TEXT` reaches every member:
// those online at once as `[@NAME from SENDER] TEXT`, the others through their mailbox.
import { error, groupMessage, list, notice, type CommandContext } from './plugin.js';
import { plural, splitWord, type Hub } from './hub.js';

const GROUP = /^[A-Za-z0-9_-]{1,32}$/;

const USAGE = '/group create NAME [USER…] | /group add NAME USER | /group leave NAME | /group list | /group members NAME';

export class Groups {
  #hub: Hub;

  constructor(hub: Hub) {
    this.#hub = hub;
  }

  /** `/group SUBCOMMAND …` by a logged-in user (`account` is its key). */
  async command(ctx: CommandContext, account: string): Promise<void> {
    const [sub, rest] = splitWord(ctx.args);
    const words = rest.split(/\s+/).filter((w) => w.length > 0);
    switch (sub.toLowerCase()) {
      case 'create': return this.#create(ctx, account, words);
      case 'add': return this.#add(ctx, account, words);
      case 'leave': return this.#leave(ctx, account, words);
      case 'list': return words.length ? ctx.reply(error('USAGE', '/group list')) : this.#list(ctx, account);
      case 'members': return this.#members(ctx, account, words);
      default: ctx.reply(error('USAGE', USAGE));
    }
  }

  /** A valid group name without its `@`, else null after answering. */
  #name(ctx: CommandContext, raw: string | undefined, usage: string): string | null {
    if (raw === undefined) { ctx.reply(error('USAGE', usage)); return null; }
    const name = raw.replace(/^@/, '');
    if (!GROUP.test(name)) { ctx.reply(error('GROUP_INVALID', 'group names are 1-32 characters of A-Z a-z 0-9 _ -')); return null; }
    return name;
  }

  async #create(ctx: CommandContext, account: string, words: string[]): Promise<void> {
    const hub = this.#hub;
    const name = this.#name(ctx, words[0], '/group create NAME [USER…]');
    if (name === null) return;
    const wanted = [account, ...words.slice(1)];
    const members: string[] = [];
    const seen = new Set<string>();
    for (const user of wanted) {
      if (seen.has(user.toLowerCase())) continue;
      seen.add(user.toLowerCase());
      const a = await hub.storage.getAccount(user);
      if (!a) return ctx.reply(error('NO_SUCH_ACCOUNT', `${user} has no account (only registered users can be in a group)`));
      members.push(a.name);
    }
    if (members.length > hub.config.groupMaxMembers) {
      return ctx.reply(error('GROUP_FULL', `a group has at most ${hub.config.groupMaxMembers} members`));
    }
    const r = await hub.storage.createGroup(name, account, members, hub.now(), hub.config.maxGroups, hub.config.maxGroupsPerUser);
    if (r === 'exists') return ctx.reply(error('GROUP_EXISTS', `group @${name} already exists`));
    if (r === 'quota') return ctx.reply(error('GROUP_QUOTA', `you have created ${hub.config.maxGroupsPerUser} groups that still exist, the most one account may`));
    if (r === 'limit') return ctx.reply(error('GROUP_LIMIT', `the server has reached its group limit (${hub.config.maxGroups})`));
    ctx.reply(notice(`Group @${name} created with ${plural(members.length, 'member')}: ${members.join(', ')}`));
  }

  async #add(ctx: CommandContext, account: string, words: string[]): Promise<void> {
    const hub = this.#hub;
    if (words.length !== 2) return ctx.reply(error('USAGE', '/group add NAME USER'));
    const name = this.#name(ctx, words[0], '/group add NAME USER');
    if (name === null) return;
    const group = await hub.storage.getGroup(name);
    if (!group) return ctx.reply(error('NO_SUCH_GROUP', `no group named @${name}`));
    if (!group.members.some((m) => m.toLowerCase() === account)) return ctx.reply(error('NOT_A_MEMBER', `only members of @${group.name} can add to it`));
    const user = await hub.storage.getAccount(words[1]!);
    if (!user) return ctx.reply(error('NO_SUCH_ACCOUNT', `${words[1]} has no account (only registered users can be in a group)`));
    const r = await hub.storage.addMember(group.key, user.key, hub.now(), hub.config.groupMaxMembers);
    if (r === 'no-group') return ctx.reply(error('NO_SUCH_GROUP', `no group named @${name}`));
    if (r === 'already') return ctx.reply(error('ALREADY_MEMBER', `${user.name} is already in @${group.name}`));
    if (r === 'full') return ctx.reply(error('GROUP_FULL', `@${group.name} has ${hub.config.groupMaxMembers} members, the most a group may have`));
    ctx.reply(notice(`${user.name} added to @${group.name}`));
    await hub.deliver([user.name], notice(`${ctx.nick} added you to @${group.name}`));
  }

  async #leave(ctx: CommandContext, account: string, words: string[]): Promise<void> {
    if (words.length !== 1) return ctx.reply(error('USAGE', '/group leave NAME'));
    const name = this.#name(ctx, words[0], '/group leave NAME');
    if (name === null) return;
    const group = await this.#hub.storage.getGroup(name);
    if (!group) return ctx.reply(error('NO_SUCH_GROUP', `no group named @${name}`));
    if (!await this.#hub.storage.removeMember(group.key, account)) return ctx.reply(error('NOT_A_MEMBER', `you are not in @${group.name}`));
    ctx.reply(notice(`You left @${group.name}`));
  }

  async #list(ctx: CommandContext, account: string): Promise<void> {
    const groups = await this.#hub.storage.groupsOf(account);
    ctx.reply(list('GROUP', groups.map((g) => [g.name, String(g.members)]), 'GROUPS'));
  }

  async #members(ctx: CommandContext, account: string, words: string[]): Promise<void> {
    if (words.length !== 1) return ctx.reply(error('USAGE', '/group members NAME'));
    const name = this.#name(ctx, words[0], '/group members NAME');
    if (name === null) return;
    const group = await this.#hub.storage.getGroup(name);
    if (!group) return ctx.reply(error('NO_SUCH_GROUP', `no group named @${name}`));
    if (!group.members.some((m) => m.toLowerCase() === account)) return ctx.reply(error('NOT_A_MEMBER', `you are not in @${group.name}`));
    const offline = new Set(await this.#hub.deliver(group.members));
    ctx.reply(list('MEMBER', group.members.map((m) => [m, offline.has(m) ? 'offline' : 'online']), 'MEMBERS'));
  }

  /** `/msg @NAME TEXT`: online members now, offline ones through their mailbox (one transaction). */
  async send(ctx: CommandContext, account: string, rawName: string, text: string): Promise<void> {
    const hub = this.#hub;
    if (!rawName) return ctx.reply(error('USAGE', '/msg @GROUP TEXT'));
    if (!text.trim()) return ctx.reply(error('EMPTY', 'nothing to send'));
    const name = this.#name(ctx, rawName, '/msg @GROUP TEXT');
    if (name === null) return;
    const group = await hub.storage.getGroup(name);
    if (!group) return ctx.reply(error('NO_SUCH_GROUP', `no group named @${name}`));
    if (!group.members.some((m) => m.toLowerCase() === account)) return ctx.reply(error('NOT_A_MEMBER', `you are not in @${group.name}`));
    const from = ctx.nick!;
    const others = group.members.filter((m) => m.toLowerCase() !== account);
    const offline = await hub.deliver(others, groupMessage(from, group.name, text));
    const online = others.length - offline.length;
    let stored = 0;
    let full: string[] = [];
    if (offline.length > 0) {
      try {
        const r = await hub.storage.storeMail(offline, { from, group: group.name, text, sentAt: hub.now() }, hub.config.mailboxMax);
        stored = r.stored.length;
        full = offline.filter((m) => r.full.includes(m.toLowerCase()));
      } catch (err) {
        hub.log.error({ err, group: group.key }, 'storing a group message failed');
        ctx.reply(error('STORAGE_ERROR', `the message could not be stored for ${offline.join(', ')} (offline); ${plural(online, 'online member')} got it`));
        return;
      }
    }
    const n = online + stored;
    const skipped = full.length > 0 ? `; not stored, mailbox full: ${full.join(', ')}` : '';
    ctx.reply(notice(`Sent to ${plural(n, 'recipient')} in @${group.name} (${online} online, ${stored} stored)${skipped}`));
  }
}
