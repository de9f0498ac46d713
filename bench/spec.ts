// The shapes bench/run.ts and its server/scenario modules share (types only, no imports, so no cycles).

/** Which protocol a server speaks and a scenario drives (stress --proto). */
export type Proto = 'line' | 'irc';

/** How the stress tool reaches a server: plain TCP, WebSocket (stress --ws), TLS (stress --tls) or
 *  WebSocket over TLS (stress --tls --ws). */
export type Transport = 'tcp' | 'ws' | 'tls' | 'wss';

/** How a server is started. The harness picks a free loopback port and passes it, so nothing depends
 *  on what a server logs; a server is ready once it prints `readyPattern` or accepts a TCP connection. */
export interface ServerSpec {
  /** Default 'line'. A server only runs the scenarios of its protocol. */
  proto?: Proto;
  /** Default 'tcp'. A server only runs the scenarios that list its transport. */
  transport?: Transport;
  /** The executable; default: this node binary (for the TypeScript servers). */
  command?: () => string;
  /** `dir` is a fresh temporary directory for this run (configs, logs), removed after it. */
  args(port: number, dir: string): string[];
  /** Run in `dir` instead of the repository (so a core dump at exit goes away with the run's files:
   *  InspIRCd 3.15 with m_ssl_gnutls crashes in InspIRCd::Exit on SIGTERM, after the measurement). */
  cwdRunDir?: boolean;
  /** Called before start, e.g. to write a config file into `dir`. */
  prepare?(port: number, dir: string): void;
  /** Extra stress arguments this server needs (e.g. ngIRCd: become an operator to lift throttling). */
  stressArgs?: string[];
  /** Optional fast path: matched against everything the server prints. */
  readyPattern: RegExp;
  /** Why it cannot run, or null when it can. May install what is missing (and say so). */
  missing(): string | null;
}

export type Better = 'higher' | 'lower' | 'info';

export interface Metric {
  key: string;
  better: Better;
  label: string;
}

export interface ScenarioDef {
  name: string;
  /** Default 'line'. */
  proto?: Proto;
  /** The transports it runs over (default ['tcp']); the server adds its stress flags (--ws, --tls). */
  transports?: Transport[];
  /** The table it is printed in (default: its protocol's). */
  table?: string;
  args: string[];
  full: string[];
  quick: string[];
  metrics: Metric[];
  /** The servers that speak what the scenario needs (default: all of its protocol). */
  only?: string[];
}
