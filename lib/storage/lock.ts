// One server per data directory: a lock file `epchat.lock` holding the owner's pid (mode 0600). It is
// written in full under a temporary name, then hard-linked to `epchat.lock`: link() fails with EEXIST
// like O_EXCL, so two starters cannot both take it, and nobody ever reads a half-written lock. A lock whose pid is no longer
// running (a server killed with -9, a crash) is stale and taken over. Node has no flock(), and an
// exclusive SQLite lock would also keep out readers such as `sqlite3 .backup`; a pid file leaves the
// database readable by tools while the server runs.
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EpchatError, ErrorCodes } from '../errors.js';

export const LOCK_FILE = 'epchat.lock';

/** Lock files held by this process (a pid check cannot tell two servers of one process apart). */
const held = new Set<string>();

/** The process `pid` runs and may be an epchat server (a pid reused by an unrelated program after a
 *  crash does not hold the lock: on Linux its command line must name node or epchat). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false; // EPERM: runs, someone else's
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /node|epchat/i.test(cmdline);
  } catch {
    return true; // no /proc (or not readable): trust the pid
  }
}

function ownerOf(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export class DirLock {
  readonly path: string;
  #held = false;

  constructor(dir: string) {
    this.path = join(dir, LOCK_FILE);
  }

  /** Takes the lock; throws EPCHAT_STORAGE naming the directory and the owner when it is held. */
  acquire(dir: string): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${process.pid}\n`, { mode: 0o600 });
    try {
      this.#take(dir, tmp);
    } finally {
      try { unlinkSync(tmp); } catch { /* gone */ }
    }
  }

  #take(dir: string, tmp: string): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(tmp, this.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = ownerOf(this.path);
        const mine = pid === process.pid && held.has(this.path);
        if (pid !== null && (mine || (pid !== process.pid && alive(pid)))) {
          throw new EpchatError(ErrorCodes.STORAGE,
            `data directory ${dir} is in use by another epchat server (pid ${pid}${mine ? ', this process' : ''}); ` +
            `stop it, or give this one another dataDir`);
        }
        // Stale (its owner is gone, or the file holds no pid): take it over.
        try { unlinkSync(this.path); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
        continue;
      }
      this.#held = true;
      held.add(this.path);
      return;
    }
    throw new EpchatError(ErrorCodes.STORAGE, `data directory ${dir}: could not take the lock ${this.path} (another server starting at the same time?)`);
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    held.delete(this.path);
    try { unlinkSync(this.path); } catch { /* already gone */ }
  }
}
