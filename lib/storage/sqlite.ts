// SqliteStorage: the Storage interface on an embedded SQLite database (better-sqlite3).
//
// - WAL journal with synchronous = FULL: a commit returns after the WAL is fsync'ed, so anything a
//   write method has resolved survives kill -9 (and power loss). NORMAL would survive kill -9 too but
//   not a power cut; the cost of FULL is one fsync per acknowledged message (measured in the README).
// - Schema migrations are the numbered files in migrations/ (NNN_name.sql), applied in order, each in
//   its own transaction, recorded in schema_version. A database newer than the code is refused.
// - better-sqlite3 is synchronous: calls run on the JavaScript thread, never on the engine's thread,
//   so a slow disk delays account commands but never chat traffic.
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EpchatError, ErrorCodes } from '../errors.js';
import { DirLock, LOCK_FILE } from './lock.js';
import type {
  Account, AddMemberResult, CreateGroupResult, Group, MailMessage, NewMail, Storage, StoreResult,
} from './storage.js';

export const DB_FILE = 'epchat.db';
/** The database and the files SQLite keeps beside it (write-ahead log, shared-memory index). */
const DB_FILES = [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`, `${DB_FILE}-journal`];

export interface Migration { version: number; name: string; sql: string }

const MIGRATION_FILE = /^(\d{3,})_([A-Za-z0-9_-]+)\.sql$/;

/** migrations/ at the package root (from dist/lib/storage or lib/storage). */
export function defaultMigrationsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of [['..', '..', '..'], ['..', '..']]) {
    const dir = join(here, ...up, 'migrations');
    if (existsSync(join(dir, '001_init.sql'))) return dir;
  }
  throw new Error(`epchat migrations not found near ${here}`);
}

/** The migration files of `dir`, sorted by number; duplicate or missing numbers are an error. */
export function loadMigrations(dir: string = defaultMigrationsDir()): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir)) {
    const m = MIGRATION_FILE.exec(file);
    if (!m) continue;
    out.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, file), 'utf8') });
  }
  out.sort((a, b) => a.version - b.version);
  out.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations in ${dir} must be numbered 001, 002, … without gaps (found ${String(m.version).padStart(3, '0')}_${m.name} at position ${i + 1})`);
  });
  return out;
}

export interface SqliteOptions {
  /** The data directory (created if missing); the database is DATA_DIR/epchat.db. */
  dataDir: string;
  /** Defaults to migrations/ at the package root. */
  migrationsDir?: string;
}

/** `dir` and the ancestors of it that do not exist yet, outermost first. */
function missingDirs(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) {
    out.unshift(d);
    if (dirname(d) === d) break;
  }
  return out;
}

/** The data directory is epchat's own (so its mode may be tightened): it holds nothing but epchat's
 *  files. A shared directory given as dataDir by mistake (`/tmp`, a home) is left as it is. */
function ownedDataDir(dir: string): boolean {
  if (!statSync(dir).isDirectory()) return false;
  const ours = new Set([...DB_FILES, LOCK_FILE]);
  return readdirSync(dir).every((f) => ours.has(f) || f.startsWith(`${LOCK_FILE}.`));
}

const key = (name: string) => name.toLowerCase();
const byName = (a: string, b: string) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

export class SqliteStorage implements Storage {
  readonly location: string;
  /** The data directory (absolute). */
  readonly dir: string;
  #opts: SqliteOptions;
  #db: Database.Database | null = null;
  #st: Statements | null = null;
  #lock: DirLock;
  /** What open() created (removed again by discard()): the directories, outermost first, and the
   *  database files. */
  #created: { dirs: string[]; db: boolean } = { dirs: [], db: false };

  constructor(opts: SqliteOptions) {
    this.#opts = opts;
    this.dir = resolve(opts.dataDir);
    this.location = join(this.dir, DB_FILE);
    this.#lock = new DirLock(this.dir);
  }

  /** Creates the data directory (0700) if needed, takes its lock, opens the database (its files 0600)
   *  and migrates it. Throws EPCHAT_STORAGE naming the path on any failure, with nothing held. */
  async open(): Promise<void> {
    if (this.#db) return;
    let step = `cannot create the data directory ${this.dir}`;
    let db: Database.Database | null = null;
    try {
      this.#created = { dirs: missingDirs(this.dir), db: !existsSync(this.location) };
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      step = `cannot lock the data directory ${this.dir}`;
      this.#lock.acquire(this.dir);
      step = `cannot open the database ${this.location}`;
      // Private: the directory 0700 (when it is epchat's own), the database 0600 before SQLite opens it,
      // so the -wal and -shm files SQLite creates beside it get the same mode.
      if (ownedDataDir(this.dir)) chmodSync(this.dir, 0o700);
      closeSync(openSync(this.location, 'a', 0o600));
      for (const f of DB_FILES) if (existsSync(join(this.dir, f))) chmodSync(join(this.dir, f), 0o600);
      db = new Database(this.location);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      migrate(db, loadMigrations(this.#opts.migrationsDir));
      this.#st = prepareStatements(db);
      this.#db = db;
    } catch (err) {
      try { db?.close(); } catch { /* already failing */ }
      this.#lock.release();
      if (err instanceof EpchatError) throw err;
      const e = err as NodeJS.ErrnoException;
      const code = typeof e?.code === 'string' ? e.code : undefined;
      const detail = err instanceof Error ? err.message : String(err);
      throw new EpchatError(ErrorCodes.STORAGE, `${step}: ${detail}${code && !detail.includes(code) ? ` (${code})` : ''}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    const db = this.#db;
    this.#db = null;
    this.#st = null;
    if (db) db.close();
    this.#lock.release();
  }

  /** Closes, then removes the database and the directories that open() created (a failed start). */
  async discard(): Promise<void> {
    await this.close();
    const { dirs, db } = this.#created;
    this.#created = { dirs: [], db: false };
    if (db) for (const f of DB_FILES) { try { unlinkSync(join(this.dir, f)); } catch { /* not there */ } }
    for (const d of [...dirs].reverse()) { try { rmdirSync(d); } catch { /* not empty, or gone */ } }
  }

  /** The journal mode and synchronous level in effect (2 = FULL), for tests and diagnostics. */
  durability(): { journalMode: string; synchronous: number } {
    const { db } = this.#need();
    return { journalMode: String(db.pragma('journal_mode', { simple: true })), synchronous: Number(db.pragma('synchronous', { simple: true })) };
  }

  /** The schema version now (for tests and diagnostics). */
  schemaVersion(): number {
    return currentVersion(this.#need().db);
  }

  #need() {
    if (!this.#db || !this.#st) throw new Error(`storage ${this.location} is not open`);
    return { db: this.#db, st: this.#st };
  }

  async accountNames(): Promise<string[]> {
    return this.#need().st.accountNames.all().map((r) => r.name);
  }

  async getAccount(name: string): Promise<Account | null> {
    const r = this.#need().st.getAccount.get(key(name));
    return r ? { key: r.key, name: r.name, password: r.password, createdAt: r.created_at } : null;
  }

  async createAccount(name: string, password: string, createdAt: number): Promise<boolean> {
    return this.#need().st.insertAccount.run(key(name), name, password, createdAt).changes === 1;
  }

  async setPassword(name: string, password: string): Promise<boolean> {
    return this.#need().st.setPassword.run(password, key(name)).changes === 1;
  }

  async deleteAccount(name: string): Promise<boolean> {
    const { db, st } = this.#need();
    return db.transaction(() => {
      const gone = st.deleteAccount.run(key(name)).changes === 1;
      if (gone) st.deleteEmptyGroups.run();
      return gone;
    }).immediate();
  }

  async storeMail(recipients: readonly string[], mail: NewMail, max: number): Promise<StoreResult> {
    const { db, st } = this.#need();
    return db.transaction(() => {
      const out: StoreResult = { stored: [], full: [], missing: [] };
      for (const r of new Set(recipients.map(key))) {
        if (!st.accountExists.get(r)) { out.missing.push(r); continue; }
        if (st.unreadCount.get(r)!.n >= max) { out.full.push(r); continue; }
        st.insertMail.run(r, mail.from, mail.group, mail.text, mail.sentAt);
        out.stored.push(r);
      }
      return out;
    }).immediate();
  }

  async unreadCount(name: string): Promise<number> {
    return this.#need().st.unreadCount.get(key(name))!.n;
  }

  async unreadMail(name: string, limit: number): Promise<MailMessage[]> {
    return this.#need().st.unreadMail.all(key(name), limit).map((r) => ({
      id: r.id, from: r.sender, group: r.group_name, text: r.body, sentAt: r.sent_at,
    }));
  }

  async markRead(name: string, upTo: number, readAt: number, keep: number): Promise<number> {
    const { db, st } = this.#need();
    const k = key(name);
    return db.transaction(() => {
      const n = st.markRead.run(readAt, k, upTo).changes;
      st.pruneRead.run(k, k, keep);
      return n;
    }).immediate();
  }

  async createGroup(name: string, createdBy: string, members: readonly string[], createdAt: number, maxGroups: number, maxPerCreator = Infinity): Promise<CreateGroupResult> {
    const { db, st } = this.#need();
    return db.transaction((): CreateGroupResult => {
      if (st.getGroup.get(key(name))) return 'exists';
      if (st.groupCount.get()!.n >= maxGroups) return 'limit';
      if (st.groupsCreatedBy.get(key(createdBy))!.n >= maxPerCreator) return 'quota';
      st.insertGroup.run(key(name), name, key(createdBy), createdAt);
      for (const m of new Set(members.map(key))) st.insertMember.run(key(name), m, createdAt);
      return 'created';
    }).immediate();
  }

  async getGroup(name: string): Promise<Group | null> {
    const { st } = this.#need();
    const g = st.getGroup.get(key(name));
    if (!g) return null;
    const members = st.members.all(g.key).map((r) => r.name).sort(byName);
    return { key: g.key, name: g.name, createdBy: g.created_by, members };
  }

  async addMember(group: string, member: string, addedAt: number, maxMembers: number): Promise<AddMemberResult> {
    const { db, st } = this.#need();
    return db.transaction((): AddMemberResult => {
      const g = key(group);
      if (!st.getGroup.get(g)) return 'no-group';
      if (st.isMember.get(g, key(member))) return 'already';
      if (st.memberCount.get(g)!.n >= maxMembers) return 'full';
      return st.insertMember.run(g, key(member), addedAt).changes === 1 ? 'added' : 'already';
    }).immediate();
  }

  async removeMember(group: string, member: string): Promise<boolean> {
    const { db, st } = this.#need();
    return db.transaction(() => {
      const g = key(group);
      if (st.deleteMember.run(g, key(member)).changes === 0) return false;
      if (st.memberCount.get(g)!.n === 0) st.deleteGroup.run(g);
      return true;
    }).immediate();
  }

  async groupsOf(member: string): Promise<Array<{ name: string; members: number }>> {
    return this.#need().st.groupsOf.all(key(member))
      .map((r) => ({ name: r.name, members: r.n }))
      .sort((a, b) => byName(a.name, b.name));
  }
}

function prepareStatements(db: Database.Database) {
  return {
    accountNames: db.prepare<[], { name: string }>('SELECT name FROM accounts'),
    getAccount: db.prepare<[string], { key: string; name: string; password: string; created_at: number }>(
      'SELECT key, name, password, created_at FROM accounts WHERE key = ?'),
    insertAccount: db.prepare('INSERT OR IGNORE INTO accounts (key, name, password, created_at) VALUES (?, ?, ?, ?)'),
    setPassword: db.prepare('UPDATE accounts SET password = ? WHERE key = ?'),
    deleteAccount: db.prepare('DELETE FROM accounts WHERE key = ?'),
    deleteEmptyGroups: db.prepare('DELETE FROM groups WHERE NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_key = groups.key)'),
    accountExists: db.prepare<[string], { n: number }>('SELECT 1 AS n FROM accounts WHERE key = ?'),
    unreadCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM mail WHERE owner = ? AND read_at IS NULL'),
    insertMail: db.prepare('INSERT INTO mail (owner, sender, group_name, body, sent_at) VALUES (?, ?, ?, ?, ?)'),
    unreadMail: db.prepare<[string, number], { id: number; sender: string; group_name: string | null; body: string; sent_at: number }>(
      'SELECT id, sender, group_name, body, sent_at FROM mail WHERE owner = ? AND read_at IS NULL ORDER BY id LIMIT ?'),
    markRead: db.prepare('UPDATE mail SET read_at = ? WHERE owner = ? AND read_at IS NULL AND id <= ?'),
    pruneRead: db.prepare(`DELETE FROM mail WHERE owner = ? AND read_at IS NOT NULL AND id NOT IN
      (SELECT id FROM mail WHERE owner = ? AND read_at IS NOT NULL ORDER BY id DESC LIMIT ?)`),
    groupCount: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM groups'),
    groupsCreatedBy: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM groups WHERE created_by = ?'),
    getGroup: db.prepare<[string], { key: string; name: string; created_by: string }>('SELECT key, name, created_by FROM groups WHERE key = ?'),
    insertGroup: db.prepare('INSERT OR IGNORE INTO groups (key, name, created_by, created_at) VALUES (?, ?, ?, ?)'),
    members: db.prepare<[string], { name: string }>(
      'SELECT a.name AS name FROM group_members m JOIN accounts a ON a.key = m.member WHERE m.group_key = ?'),
    isMember: db.prepare<[string, string], { n: number }>('SELECT 1 AS n FROM group_members WHERE group_key = ? AND member = ?'),
    memberCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM group_members WHERE group_key = ?'),
    insertMember: db.prepare('INSERT OR IGNORE INTO group_members (group_key, member, added_at) VALUES (?, ?, ?)'),
    deleteMember: db.prepare('DELETE FROM group_members WHERE group_key = ? AND member = ?'),
    deleteGroup: db.prepare('DELETE FROM groups WHERE key = ?'),
    groupsOf: db.prepare<[string], { name: string; n: number }>(`SELECT g.name AS name,
      (SELECT count(*) FROM group_members x WHERE x.group_key = g.key) AS n
      FROM group_members m JOIN groups g ON g.key = m.group_key WHERE m.member = ?`),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

function currentVersion(db: Database.Database): number {
  const row = db.prepare<[], { v: number | null }>('SELECT max(version) AS v FROM schema_version').get();
  return row?.v ?? 0;
}

/** Applies the migrations newer than the database, each in its own transaction. */
export function migrate(db: Database.Database, migrations: readonly Migration[]): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const have = currentVersion(db);
  const latest = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
  if (have > latest) {
    throw new Error(`the database is at schema version ${have}, newer than this epchat knows (${latest}): upgrade epchat`);
  }
  const record = db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of migrations) {
    if (m.version <= have) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    }).immediate();
  }
  return currentVersion(db);
}
