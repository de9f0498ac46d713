-- 001: accounts, offline mailboxes and groups.
-- Names are stored twice: `key` is the lower-case form used for lookups (nicknames and group names are
-- compared without regard to case), `name` is the spelling the owner chose, used for display.
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE accounts (
  key        TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  -- scrypt$N$r$p$SALT$HASH (base64): the parameters travel with the hash, so raising the cost later
  -- does not lock anyone out.
  password   TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE mail (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  owner      TEXT NOT NULL REFERENCES accounts(key) ON DELETE CASCADE,
  sender     TEXT NOT NULL,
  -- The group it was sent to (display name), NULL for a private message.
  group_name TEXT,
  body       TEXT NOT NULL,
  sent_at    INTEGER NOT NULL,
  read_at    INTEGER
);
CREATE INDEX mail_by_owner ON mail(owner, read_at, id);

CREATE TABLE groups (
  key        TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE group_members (
  group_key  TEXT NOT NULL REFERENCES groups(key) ON DELETE CASCADE,
  member     TEXT NOT NULL REFERENCES accounts(key) ON DELETE CASCADE,
  added_at   INTEGER NOT NULL,
  PRIMARY KEY (group_key, member)
) WITHOUT ROWID;
CREATE INDEX group_members_by_member ON group_members(member);
