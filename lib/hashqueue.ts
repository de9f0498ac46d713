// The global bound on password hashing. scrypt costs tens of milliseconds of CPU and 16 MiB of memory
// per call (at the default cost), so every hash of the server (logins, registrations, password changes)
// goes through one queue: at most `concurrency` run at once, at most `maxQueued` wait, and past that the
// caller is told the server is busy at once instead of waiting behind everyone. A job waits in the
// queue until it starts; jobs of a client that has gone (`abandon`) and every waiting job at shutdown
// (`close`) are dropped without running. A job that has started runs to its end (scrypt cannot be
// interrupted): so at most `concurrency` hashes outlive their client or the server.

/** Why a job did not run: the queue was full, its client went away, or the server is closing. */
export type HashRefusal = 'busy' | 'abandoned' | 'closed';

export class HashRefused extends Error {
  readonly reason: HashRefusal;

  constructor(reason: HashRefusal) {
    super(`password hashing ${reason === 'busy' ? 'queue is full' : reason === 'abandoned' ? 'abandoned: the client went away' : 'stopped: the server is closing'}`);
    this.name = 'HashRefused';
    this.reason = reason;
  }
}

export function isHashRefused(err: unknown, reason?: HashRefusal): err is HashRefused {
  return err instanceof HashRefused && (reason === undefined || err.reason === reason);
}

interface Job {
  owner: number;
  start(): void;
  refuse(reason: HashRefusal): void;
}

export interface HashLimits {
  /** Hashes running at once. */
  concurrency(): number;
  /** Hashes waiting to start; one more is refused as busy. */
  maxQueued(): number;
}

export class HashQueue {
  #limits: HashLimits;
  #waiting: Job[] = [];
  #running = 0;
  #closed = false;
  /** Jobs that started, over the queue's life (tests and diagnostics). */
  started = 0;

  constructor(limits: HashLimits) {
    this.#limits = limits;
  }

  get running(): number { return this.#running; }
  get queued(): number { return this.#waiting.length; }

  /** Runs `job` for client `owner` when a slot is free. Rejects with HashRefused when the queue is full
   *  (busy), when the owner is abandoned before it starts, or when the queue is closed. */
  run<T>(owner: number, job: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new HashRefused('closed'));
    return new Promise<T>((resolve, reject) => {
      const entry: Job = {
        owner,
        start: () => {
          this.#running++;
          this.started++;
          let p: Promise<T>;
          try {
            p = job();
          } catch (err) {
            p = Promise.reject(err);
          }
          p.then(resolve, reject).finally(() => {
            this.#running--;
            this.#pump();
          });
        },
        refuse: (reason) => reject(new HashRefused(reason)),
      };
      if (this.#running < Math.max(1, this.#limits.concurrency())) {
        entry.start();
      } else if (this.#waiting.length >= this.#limits.maxQueued()) {
        entry.refuse('busy');
      } else {
        this.#waiting.push(entry);
      }
    });
  }

  /** Drops the waiting jobs of `owner` (a client that disconnected): they never run. */
  abandon(owner: number): void {
    if (this.#waiting.length === 0) return;
    const keep: Job[] = [];
    for (const j of this.#waiting) {
      if (j.owner === owner) j.refuse('abandoned');
      else keep.push(j);
    }
    this.#waiting = keep;
  }

  /** Drops every waiting job and refuses new ones (the server is stopping). */
  close(): void {
    this.#closed = true;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const j of waiting) j.refuse('closed');
  }

  #pump(): void {
    while (!this.#closed && this.#waiting.length > 0 && this.#running < Math.max(1, this.#limits.concurrency())) {
      this.#waiting.shift()!.start();
    }
  }
}
