// The storage interface behind accounts, offline mailboxes and groups. Every method is asynchronous so
// that a networked backend (PostgreSQL) can implement it as it is; SqliteStorage answers from the
// calling thread. Names passed in are display names or keys; implementations compare them without
// regard to case (`key` = lower case).
//
// Durability contract: when a write method's promise resolves, the change is durable — it survives the
// process being killed (kill -9) right after. The chat layer only tells a sender "stored" after that.

export interface Account {
  /** Lower-case name (the lookup key). */
  key: string;
  /** The spelling chosen at registration. */
  name: string;
  /** Encoded password hash (see lib/accounts.ts: `scrypt$N$r$p$salt$hash`). */
  password: string;
  createdAt: number;
}

export interface MailMessage {
  id: number;
  /** Sender's nickname as it was when sending. */
  from: string;
  /** Group display name when sent to a group, else null. */
  group: string | null;
  text: string;
  /** Milliseconds since the epoch. */
  sentAt: number;
}

export interface NewMail {
  from: string;
  group: string | null;
  text: string;
  sentAt: number;
}

export interface StoreResult {
  /** Account keys the message was stored for. */
  stored: string[];
  /** Account keys whose mailbox was full (nothing stored for them). */
  full: string[];
  /** Account keys that do not exist (nothing stored for them). */
  missing: string[];
}

export interface Group {
  key: string;
  name: string;
  createdBy: string;
  /** Member account names (display spelling), sorted without regard to case. */
  members: string[];
}

export type CreateGroupResult = 'created' | 'exists' | 'limit' | 'quota';
export type AddMemberResult = 'added' | 'no-group' | 'already' | 'full';

export interface Storage {
  /** Opens (creating and migrating as needed). A store that one server at a time may use (a data
   *  directory) is locked here: a second opener is refused. Failures name the place. */
  open(): Promise<void>;
  close(): Promise<void>;
  /** Optional: closes and removes what open() created (the server failed to start, e.g. its port was
   *  in use): a failed start leaves nothing behind. Without it, close() is used. */
  discard?(): Promise<void>;
  /** Where the data lives, for logs (a path, a URL without credentials, …). */
  readonly location: string;

  // Accounts
  /** Every account's display name (the server protects these nicknames at start). */
  accountNames(): Promise<string[]>;
  getAccount(name: string): Promise<Account | null>;
  /** False when an account with that name (any case) exists. */
  createAccount(name: string, password: string, createdAt: number): Promise<boolean>;
  setPassword(name: string, password: string): Promise<boolean>;
  /** Deletes the account, its mailbox and its group memberships (and groups left empty). */
  deleteAccount(name: string): Promise<boolean>;

  // Mailboxes
  /** Stores one message for each recipient (account names) whose mailbox holds fewer than `max`
   *  unread messages, in one transaction. */
  storeMail(recipients: readonly string[], mail: NewMail, max: number): Promise<StoreResult>;
  unreadCount(name: string): Promise<number>;
  /** Unread messages, oldest first (at most `limit`). */
  unreadMail(name: string, limit: number): Promise<MailMessage[]>;
  /** Marks messages up to and including id `upTo` as read; read messages beyond the newest `keep` are
   *  deleted. Returns how many were marked. */
  markRead(name: string, upTo: number, readAt: number, keep: number): Promise<number>;

  // Groups
  /** Creates a group with its members (account names; the creator included by the caller), unless one
   *  with that name exists ('exists'), `maxGroups` groups exist ('limit') or `createdBy` has created
   *  `maxPerCreator` groups that still exist ('quota'). */
  createGroup(name: string, createdBy: string, members: readonly string[], createdAt: number, maxGroups: number, maxPerCreator?: number): Promise<CreateGroupResult>;
  getGroup(name: string): Promise<Group | null>;
  addMember(group: string, member: string, addedAt: number, maxMembers: number): Promise<AddMemberResult>;
  /** Removes a member; a group left empty is deleted. False when not a member. */
  removeMember(group: string, member: string): Promise<boolean>;
  /** The groups `member` belongs to, with their member counts, sorted by name. */
  groupsOf(member: string): Promise<Array<{ name: string; members: number }>>;
}
