// Issue #10's bench rows: the fan-out workload over WebSocket and over TLS (line protocol and IRC),
// beside plaintext TCP and the C reference (tools/cref --ws / --tls-cert) in the same run; InspIRCd
// over TLS (its m_ssl_gnutls module); idle memory per TLS connection. See docs/performance.md.
//
// Every server here is started with a development certificate made for the run (scripts/dev-cert.sh,
// into the run's temporary directory) when it speaks TLS; the stress tool then connects with --tls
// (no verification) or --ws --ws-protocol NAME. A scenario lists the transports it runs over, so a
// plaintext server of the same protocol runs it too: the ratios compare like with like.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureInstalled, inspircdConfig, isRoot, type InspircdTransport } from './ircd.js';
import type { Metric, ScenarioDef, ServerSpec } from './spec.js';

/** What run.ts knows about epchat and cref (passed in: no import cycle). */
export interface TransportContext {
  root: string;
  /** build-tools/cref */
  cref: string;
  /** bin/epchat.js of the checkout measured (run.ts --epchat). */
  epchatBin(): string;
  /** epchat's common bench flags (backlog, limits, no console, log level). */
  epchatArgs: string[];
  /** Why epchat cannot run at all (no addon, no dist), or null. */
  epchatMissing(): string | null;
  /** Why cref cannot be built, or null. */
  crefMissing(): string | null;
  /** `epchat --help`, once. */
  epchatHelp(): string;
}

// ---------------------------------------------------------------------------------------------------
// the flags these rows assume epchat has (h-ws, h-tls: docs/performance.md "WebSocket and TLS")

/** The HTTP listener (static web client, WebSocket upgrade). */
export const EPCHAT_HTTP_FLAG = '--http-port';
/** The line protocol over TLS, and IRC over TLS. */
export const EPCHAT_TLS_FLAGS = ['--tls-cert', '--tls-key', '--tls-port', '--irc-tls-port'];
/** The HTTP listener over TLS (HTTPS, WebSocket over TLS). */
export const EPCHAT_HTTPS_FLAG = '--https-port';
/** The WebSocket subprotocols: the line protocol, and IRC per the IRCv3 websocket spec. */
export const WS_LINE = 'epchat.line';
export const WS_IRC = 'text.ircv3.net';

const certOf = (dir: string) => ({ cert: join(dir, 'tls', 'cert.pem'), key: join(dir, 'tls', 'key.pem') });

/** A development certificate for the run (ECDSA P-256, self-signed, CN localhost, IP 127.0.0.1). */
function devCert(root: string, dir: string): void {
  const r = spawnSync('bash', [join(root, 'scripts', 'dev-cert.sh'), join(dir, 'tls'), '--force'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/dev-cert.sh failed: ${r.stderr}`);
}

function epchatLacks(ctx: TransportContext, flags: string[], what: string): string | null {
  const base = ctx.epchatMissing();
  if (base !== null) return base;
  const help = ctx.epchatHelp();
  const absent = flags.filter((f) => !help.includes(f));
  return absent.length === 0 ? null : `epchat has no ${what} yet (\`epchat --help\` lists no ${absent.join(', ')}); nothing measured`;
}

/** Where Debian's inspircd package puts its modules (m_ssl_gnutls and m_websocket among them). */
const INSPIRCD_MODULES = '/usr/lib/inspircd/modules';

export function transportServers(ctx: TransportContext): Record<string, ServerSpec> {
  // Every listener on the harness's port is the one measured; the others take ephemeral ports (with
  // --port 0, epchat's IRC and HTTP ports default to 0 too).
  // With a certificate, HTTPS defaults to a fixed port (7443): on an ephemeral one instead, if the flag exists.
  const epchat = (extra: (port: number, dir: string) => string[]) => (port: number, dir: string) => {
    const own = extra(port, dir);
    const https = own.includes('--tls-cert') && !own.includes(EPCHAT_HTTPS_FLAG) && ctx.epchatHelp().includes(EPCHAT_HTTPS_FLAG);
    return [ctx.epchatBin(), '--host', '127.0.0.1', '--port', '0', ...own, ...(https ? [EPCHAT_HTTPS_FLAG, '0'] : []),
      ...ctx.epchatArgs, '--data-dir', dir];
  };
  const tlsFlags = (dir: string) => ['--tls-cert', certOf(dir).cert, '--tls-key', certOf(dir).key];
  const wsMissing = () => epchatLacks(ctx, [EPCHAT_HTTP_FLAG], 'HTTP/WebSocket listener');
  const tlsMissing = () => epchatLacks(ctx, EPCHAT_TLS_FLAGS, 'TLS listeners');
  const wssMissing = () => epchatLacks(ctx, [EPCHAT_HTTP_FLAG, '--tls-cert', '--tls-key', EPCHAT_HTTPS_FLAG], 'HTTPS listener');
  const cref = (args: (port: number, dir: string) => string[], proto: 'line' | 'irc') => (port: number, dir: string) =>
    ['--port', String(port), '--proto', proto, ...args(port, dir)];
  const prepareCert = (_port: number, dir: string) => devCert(ctx.root, dir);
  const never = /^(?!)/; // ready = accepts on the port
  let inspircd: string | null = null;
  return {
    'epchat-ws': {
      transport: 'ws', args: epchat((port) => [EPCHAT_HTTP_FLAG, String(port)]),
      stressArgs: ['--ws', '--ws-protocol', WS_LINE], readyPattern: never, missing: wsMissing,
    },
    'epchat-ws-irc': {
      proto: 'irc', transport: 'ws', args: epchat((port) => [EPCHAT_HTTP_FLAG, String(port)]),
      stressArgs: ['--ws', '--ws-protocol', WS_IRC], readyPattern: never, missing: wsMissing,
    },
    'cref-ws': {
      transport: 'ws', command: () => ctx.cref, args: cref(() => ['--ws'], 'line'),
      stressArgs: ['--ws', '--ws-protocol', WS_LINE], readyPattern: /^listening \d+$/m, missing: ctx.crefMissing,
    },
    'cref-ws-irc': {
      proto: 'irc', transport: 'ws', command: () => ctx.cref, args: cref(() => ['--ws'], 'irc'),
      stressArgs: ['--ws', '--ws-protocol', WS_IRC], readyPattern: /^listening \d+$/m, missing: ctx.crefMissing,
    },
    'epchat-tls': {
      transport: 'tls', prepare: prepareCert, args: epchat((port, dir) => [...tlsFlags(dir), '--tls-port', String(port)]),
      stressArgs: ['--tls'], readyPattern: never, missing: tlsMissing,
    },
    'epchat-tls-irc': {
      proto: 'irc', transport: 'tls', prepare: prepareCert,
      args: epchat((port, dir) => [...tlsFlags(dir), '--irc-tls-port', String(port)]),
      stressArgs: ['--tls'], readyPattern: never, missing: tlsMissing,
    },
    'epchat-wss': {
      transport: 'wss', prepare: prepareCert, args: epchat((port, dir) => [...tlsFlags(dir), EPCHAT_HTTPS_FLAG, String(port)]),
      stressArgs: ['--tls', '--ws', '--ws-protocol', WS_LINE], readyPattern: never, missing: wssMissing,
    },
    'cref-wss': {
      transport: 'wss', prepare: prepareCert, command: () => ctx.cref, args: cref((_p, dir) => ['--ws', ...tlsFlags(dir)], 'line'),
      stressArgs: ['--tls', '--ws', '--ws-protocol', WS_LINE], readyPattern: /^listening \d+$/m, missing: ctx.crefMissing,
    },
    'cref-tls': {
      transport: 'tls', prepare: prepareCert, command: () => ctx.cref, args: cref((_p, dir) => tlsFlags(dir), 'line'),
      stressArgs: ['--tls'], readyPattern: /^listening \d+$/m, missing: ctx.crefMissing,
    },
    'cref-tls-irc': {
      proto: 'irc', transport: 'tls', prepare: prepareCert, command: () => ctx.cref,
      args: cref((_p, dir) => tlsFlags(dir), 'irc'),
      stressArgs: ['--tls'], readyPattern: /^listening \d+$/m, missing: ctx.crefMissing,
    },
    // InspIRCd 3 with m_ssl_gnutls (Debian ships it in the inspircd package): the bench's InspIRCd
    // configuration (bench/ircd.ts) with the module, an sslprofile on the run's dev certificate, and
    // the client port bound to it.
    'inspircd-tls': inspircdOver('tls', ['m_ssl_gnutls.so'], (dir) => ({ tls: certOf(dir) }), ['--tls']),
    // InspIRCd 3 with m_websocket on the client port (IRC over WebSocket, text frames). InspIRCd 3.15
    // negotiates no subprotocol (it answers text.ircv3.net without one), so none is asked: IRC text.
    'inspircd-ws': inspircdOver('ws', ['m_websocket.so', 'm_sha1.so'], () => ({ ws: true }), ['--ws']),
  };

  function inspircdOver(transport: 'tls' | 'ws', modules: string[], t: (dir: string) => InspircdTransport, stressArgs: string[]): ServerSpec {
    return {
      proto: 'irc', transport, cwdRunDir: true,
      command: () => inspircd ?? 'inspircd',
      prepare: (port, dir) => {
        if (transport === 'tls') devCert(ctx.root, dir);
        writeFileSync(join(dir, 'inspircd.conf'), inspircdConfig(port, dir, t(dir)));
      },
      args: (_port, dir) => [`--config=${join(dir, 'inspircd.conf')}`, '--nofork', '--nopid', ...(isRoot() ? ['--runasroot'] : [])],
      stressArgs,
      readyPattern: /InspIRCd is now running/,
      missing: () => {
        const r = ensureInstalled('inspircd', 'inspircd');
        inspircd = r.path;
        if (r.why !== null) return r.why;
        const absent = modules.filter((m) => !existsSync(join(INSPIRCD_MODULES, m)));
        return absent.length === 0 ? null : `InspIRCd lacks ${absent.join(', ')} in ${INSPIRCD_MODULES}`;
      },
    };
  }
}

// ---------------------------------------------------------------------------------------------------
// scenarios

const fanoutMetrics: Metric[] = [
  { key: 'deliveries_per_s', better: 'higher', label: 'deliveries/s' },
  { key: 'server_cpu_ns_per_delivery', better: 'lower', label: 'server CPU ns/delivery' },
  { key: 'latency_p50_us', better: 'lower', label: 'latency p50 µs' },
  { key: 'latency_p99_us', better: 'lower', label: 'latency p99 µs' },
];

const idleMetrics: Metric[] = [
  { key: 'rss_kib_per_client', better: 'lower', label: 'RSS KiB/idle connection' },
  { key: 'setup_s', better: 'lower', label: 'connect+register s' },
  { key: 'server_idle_cpu_pct', better: 'lower', label: 'server CPU % idle' },
];

const FANOUT = ['--scenario', 'fanout', '--clients', '100', '--senders', '4', '--window', '16', '--size', '64'];
const TIMED = { full: ['--duration', '4', '--warmup', '1'], quick: ['--duration', '0.5', '--warmup', '0.2'] };

export const TRANSPORT_SCENARIOS: ScenarioDef[] = [
  {
    name: 'fanout-ws', table: 'ws', transports: ['tcp', 'ws'], only: ['epchat', 'cref', 'epchat-ws', 'cref-ws'],
    args: FANOUT, ...TIMED, metrics: fanoutMetrics,
  },
  {
    name: 'fanout-ws-irc', proto: 'irc', table: 'ws-irc', transports: ['tcp', 'ws'],
    only: ['epchat-irc', 'cref-irc', 'epchat-ws-irc', 'cref-ws-irc', 'inspircd-ws'],
    args: ['--proto', 'irc', ...FANOUT], ...TIMED, metrics: fanoutMetrics,
  },
  {
    name: 'fanout-tls', table: 'tls', transports: ['tcp', 'tls'], only: ['epchat', 'cref', 'epchat-tls', 'cref-tls'],
    args: FANOUT, ...TIMED, metrics: fanoutMetrics,
  },
  {
    // The same at a fixed offered load, 500,000 deliveries/s (5050 messages/s × 99): per-delivery CPU at
    // equal batching. Closed loop, TLS costs the stress tool more too (it decrypts every delivery), so
    // the tool saturates at a lower rate, the server's writes carry fewer messages each, and the TLS
    // ratio comes out higher than the server's own cost alone.
    name: 'fanout-open-tls', table: 'tls', transports: ['tcp', 'tls'], only: ['epchat', 'cref', 'epchat-tls', 'cref-tls'],
    args: ['--scenario', 'fanout', '--clients', '100', '--senders', '4', '--rate', '5050', '--size', '64'], ...TIMED,
    metrics: [
      { key: 'server_cpu_ns_per_delivery', better: 'lower', label: 'server CPU ns/delivery' },
      { key: 'server_cpu_pct', better: 'lower', label: 'server CPU %' },
      { key: 'latency_p50_us', better: 'lower', label: 'latency p50 µs' },
      { key: 'latency_p99_us', better: 'lower', label: 'latency p99 µs' },
    ],
  },
  {
    // WebSocket over TLS (HTTPS listener), beside plain WebSocket.
    name: 'fanout-wss', table: 'wss', transports: ['ws', 'wss'], only: ['epchat-ws', 'cref-ws', 'epchat-wss', 'cref-wss'],
    args: FANOUT, ...TIMED, metrics: fanoutMetrics,
  },
  {
    name: 'fanout-tls-irc', proto: 'irc', table: 'tls-irc', transports: ['tcp', 'tls'],
    only: ['epchat-irc', 'cref-irc', 'inspircd', 'epchat-tls-irc', 'cref-tls-irc', 'inspircd-tls'],
    args: ['--proto', 'irc', ...FANOUT], ...TIMED, metrics: fanoutMetrics,
  },
  {
    // N idle clients connect (and, over TLS, finish their handshakes), register and hold: (RSS after −
    // RSS before) / N, over TLS and over plaintext TCP in the same run.
    name: 'idle-tls', table: 'tls', transports: ['tcp', 'tls'], only: ['epchat', 'cref', 'epchat-tls', 'cref-tls'],
    args: ['--scenario', 'idle'], full: ['--clients', '5000', '--duration', '2'], quick: ['--clients', '300', '--duration', '0.3'],
    metrics: idleMetrics,
  },
  {
    // Over IRC every JOIN is told to the whole channel (N² lines to set up), so fewer clients.
    name: 'idle-tls-irc', proto: 'irc', table: 'tls-irc', transports: ['tcp', 'tls'],
    only: ['epchat-irc', 'inspircd', 'epchat-tls-irc', 'inspircd-tls'],
    args: ['--proto', 'irc', '--scenario', 'idle'], full: ['--clients', '1000', '--duration', '2'],
    quick: ['--clients', '200', '--duration', '0.3'], metrics: idleMetrics,
  },
];

/** Ratio columns of these tables: [a, b] shows how many times better a is than b. */
export const TRANSPORT_PAIRS: Array<readonly [string, string]> = [
  ['epchat-ws', 'cref-ws'], ['epchat-ws', 'epchat'], ['cref-ws', 'cref'],
  ['epchat-ws-irc', 'cref-ws-irc'], ['epchat-ws-irc', 'epchat-irc'], ['epchat-ws-irc', 'inspircd-ws'], ['cref-ws-irc', 'cref-irc'],
  ['inspircd-ws', 'cref-ws-irc'],
  ['epchat-tls', 'epchat'], ['epchat-tls', 'cref-tls'], ['cref-tls', 'cref'],
  ['epchat-tls-irc', 'epchat-irc'], ['epchat-tls-irc', 'cref-tls-irc'], ['epchat-tls-irc', 'inspircd-tls'],
  ['cref-tls-irc', 'cref-irc'], ['inspircd-tls', 'inspircd'],
  ['epchat-wss', 'epchat-ws'], ['epchat-wss', 'cref-wss'], ['cref-wss', 'cref-ws'],
];

// ---------------------------------------------------------------------------------------------------
// targets (issue #10, "Measured")

type Summary = Record<string, Record<string, Record<string, number | boolean>>>;

/** The targets of issue #10 as lines to print: met / NOT MET, or pending when a server did not run.
 *  Informational: the run does not fail on them. */
export function issue10Targets(summary: Summary, skipped: Map<string, string>, scenarios: string[]): string[] {
  const out: string[] = [];
  const get = (sc: string, srv: string, key: string): number | undefined => {
    const v = summary[sc]?.[srv]?.[key];
    return typeof v === 'number' && v > 0 ? v : undefined;
  };
  const CPU = 'server_cpu_ns_per_delivery';
  const f = (x: number): string => x.toFixed(2);
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT MET');
  const why = (srv: string): string => `pending (${srv}: ${skipped.get(srv) ?? 'not in --servers or its runs failed'})`;
  /** "a's CPU per delivery ≤ k × b's" */
  const within = (sc: string, a: string, b: string, k: number, label: string): void => {
    if (!scenarios.includes(sc)) return;
    const x = get(sc, a, CPU);
    const y = get(sc, b, CPU);
    if (x === undefined) out.push(`#10 ${label}: ${why(a)}`);
    else if (y === undefined) out.push(`#10 ${label}: ${why(b)}`);
    else out.push(`#10 ${label}: ${f(x)} vs ${f(y)} ns = ${f(x / y)}× (target ≤ ${k}×): ${verdict(x <= k * y)}`);
  };
  const info = (sc: string, a: string, b: string, label: string): void => {
    const x = get(sc, a, CPU);
    const y = get(sc, b, CPU);
    if (scenarios.includes(sc) && x !== undefined && y !== undefined) out.push(`#10 info: ${label}: ${f(x / y)}× (${f(x)} vs ${f(y)} ns)`);
  };
  within('fanout-ws', 'epchat-ws', 'cref-ws', 1.3, 'fanout-ws (line), CPU per delivery, epchat-ws vs cref-ws');
  within('fanout-ws-irc', 'epchat-ws-irc', 'cref-ws-irc', 1.3, 'fanout-ws-irc, CPU per delivery, epchat-ws-irc vs cref-ws-irc');
  within('fanout-tls', 'epchat-tls', 'epchat', 3, 'fanout-tls (line), CPU per delivery, epchat-tls vs plaintext epchat');
  within('fanout-open-tls', 'epchat-tls', 'epchat', 3, 'fanout-open-tls (line, 500k deliveries/s offered), CPU per delivery, epchat-tls vs plaintext epchat');
  within('fanout-tls-irc', 'epchat-tls-irc', 'epchat-irc', 3, 'fanout-tls-irc, CPU per delivery, epchat-tls-irc vs plaintext epchat-irc');
  within('fanout-tls-irc', 'epchat-tls-irc', 'inspircd-tls', 1, 'fanout-tls-irc, CPU per delivery, epchat-tls-irc cheaper than InspIRCd over TLS');
  info('fanout-ws', 'cref-ws', 'cref', 'the C reference, WebSocket vs TCP (line)');
  info('fanout-ws', 'epchat-ws', 'epchat', 'epchat, WebSocket vs TCP (line)');
  info('fanout-ws-irc', 'cref-ws-irc', 'cref-irc', 'the C reference, WebSocket vs TCP (IRC)');
  info('fanout-ws-irc', 'inspircd-ws', 'cref-ws-irc', 'InspIRCd over WebSocket vs cref-ws-irc');
  info('fanout-tls', 'cref-tls', 'cref', 'the C reference, TLS vs TCP (line)');
  info('fanout-tls', 'epchat-tls', 'cref-tls', 'epchat-tls vs cref-tls (line)');
  info('fanout-open-tls', 'cref-tls', 'cref', 'the C reference, TLS vs TCP (line, 500k deliveries/s offered)');
  info('fanout-tls-irc', 'cref-tls-irc', 'cref-irc', 'the C reference, TLS vs TCP (IRC)');
  info('fanout-tls-irc', 'inspircd-tls', 'inspircd', 'InspIRCd, TLS vs TCP');
  info('fanout-tls-irc', 'inspircd-tls', 'cref-tls-irc', 'InspIRCd over TLS vs cref-tls-irc');
  info('fanout-wss', 'epchat-wss', 'epchat-ws', 'epchat, WebSocket over TLS vs WebSocket');
  info('fanout-wss', 'cref-wss', 'cref-ws', 'the C reference, WebSocket over TLS vs WebSocket');
  info('fanout-wss', 'epchat-wss', 'cref-wss', 'epchat-wss vs cref-wss');
  for (const [sc, pairs] of [
    ['idle-tls', [['epchat-tls', 'epchat'], ['cref-tls', 'cref']]],
    ['idle-tls-irc', [['epchat-tls-irc', 'epchat-irc'], ['inspircd-tls', 'inspircd']]],
  ] as const) {
    if (!scenarios.includes(sc)) continue;
    for (const [tls, plain] of pairs) {
      const t = summary[sc]?.[tls]?.['rss_kib_per_client'];
      const p = summary[sc]?.[plain]?.['rss_kib_per_client'];
      if (typeof t !== 'number') out.push(`#10 ${sc}: idle memory per TLS connection (${tls}): ${why(tls)}`);
      else out.push(`#10 ${sc}: idle memory per TLS connection (${tls}): ${f(t)} KiB` +
        (typeof p === 'number' ? ` (plaintext ${plain}: ${f(p)} KiB; TLS adds ${f(t - p)} KiB)` : ''));
    }
  }
  return out;
}
