// `npm run bench`: runs build-tools/stress against epchat, the two node:net baselines, the C reference
// (tools/cref) and, over IRC, InspIRCd and ngIRCd; over WebSocket and TLS too (bench/transports.ts);
// several repetitions, takes medians, computes ratios, saves JSON under bench/results/ and prints
// markdown tables (one per protocol, and per transport). See docs/performance.md.
//
//   node dist/bench/run.js [--quick] [--servers epchat,plain,corked,cref,...] [--scenarios fanout,rooms,...]
//                          [--reps N] [--no-pin] [--out DIR] [--epchat DIR]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSPIRCD, NGIRCD } from './ircd.js';
import { IRC_SCENARIOS, issue9Targets, REFERENCE_PAIRS } from './issue9.js';
import type { Metric, Proto, ScenarioDef, ServerSpec, Transport } from './spec.js';
import { issue10Targets, TRANSPORT_PAIRS, TRANSPORT_SCENARIOS, transportServers } from './transports.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STRESS = join(ROOT, 'build-tools', 'stress');
const CREF = join(ROOT, 'build-tools', 'cref');
const BASELINES = ['plain', 'corked'];

// ---------------------------------------------------------------------------------------------------
// Servers: the command line and how readiness is detected, in one place (ServerSpec in spec.ts). The
// harness picks a free loopback port and passes it, so nothing depends on what a server logs; a
// server is ready once it prints its ready line or accepts a TCP connection, whichever comes first.

const EPCHAT_ARGS = ['--backlog', '4096', '--max-clients', '20000', '--flood-rate', '0', '--idle-timeout-ms', '0',
  '--no-console', '--log-level', 'warn'];

/** The checkout whose epchat is measured: this one, or `--epchat DIR` (another built worktree, e.g. a
 *  branch not merged yet; the harness, tools and other servers stay this checkout's). */
let EPCHAT_ROOT = ROOT;
const epchatBin = (): string => join(EPCHAT_ROOT, 'bin', 'epchat.js');

function epchatMissing(): string | null {
  return !existsSync(epchatBin()) ? `${epchatBin()} not found`
    : !existsSync(join(EPCHAT_ROOT, 'build', 'Release', 'epchat.node')) ? 'build/Release/epchat.node not built (npx node-gyp rebuild)'
    : !existsSync(join(EPCHAT_ROOT, 'dist', 'lib', 'cli.js')) ? 'dist/lib missing (npm run build:ts)' : null;
}

/** epchat's IRC listener flag (issue #9). The entry runs once `epchat --help` lists it. */
const EPCHAT_IRC_FLAG = '--irc-port';

let helpText: string | null = null;

/** `epchat --help`, asked once: which listeners this epchat has. */
function epchatHelp(): string {
  helpText ??= spawnSync(process.execPath, [epchatBin(), '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 15_000 }).stdout ?? '';
  return helpText;
}

function epchatIrcMissing(): string | null {
  const base = epchatMissing();
  if (base !== null) return base;
  return epchatHelp().includes(EPCHAT_IRC_FLAG) ? null
    : `epchat has no IRC listener yet (\`epchat --help\` lists no ${EPCHAT_IRC_FLAG}); nothing measured`;
}

function crefMissing(): string | null {
  return ensureTool(CREF, join(ROOT, 'tools', 'cref', 'cref.c')) ? null : 'could not build build-tools/cref with cc';
}

const SERVERS: Record<string, ServerSpec> = {
  epchat: {
    args: (port, dir) => [epchatBin(), '--host', '127.0.0.1', '--port', String(port), ...EPCHAT_ARGS,
      '--data-dir', dir],
    readyPattern: /listening on [^\s"]*:\d+/,
    missing: epchatMissing,
  },
  // The IRC listener on the harness's port; the line listener on a port of its own choosing.
  'epchat-irc': {
    proto: 'irc',
    args: (port, dir) => [epchatBin(), '--host', '127.0.0.1', '--port', '0',
      '--irc-host', '127.0.0.1', EPCHAT_IRC_FLAG, String(port), ...EPCHAT_ARGS, '--data-dir', dir],
    readyPattern: /^(?!)/, // ready = accepts on the IRC port
    missing: epchatIrcMissing,
  },
  cref: {
    command: () => CREF,
    args: (port) => ['--port', String(port), '--proto', 'line'],
    readyPattern: /^listening \d+$/m,
    missing: crefMissing,
  },
  'cref-irc': {
    proto: 'irc',
    command: () => CREF,
    args: (port) => ['--port', String(port), '--proto', 'irc'],
    readyPattern: /^listening \d+$/m,
    missing: crefMissing,
  },
  inspircd: INSPIRCD,
  ngircd: NGIRCD,
  ...transportServers({ root: ROOT, cref: CREF, epchatBin, epchatArgs: EPCHAT_ARGS, epchatMissing, crefMissing, epchatHelp }),
  plain: {
    args: (port) => [join(ROOT, 'dist', 'bench', 'baseline-plain.js'), '--port', String(port)],
    readyPattern: /^listening \d+$/m,
    missing: () => null,
  },
  corked: {
    args: (port) => [join(ROOT, 'dist', 'bench', 'baseline-corked.js'), '--port', String(port)],
    readyPattern: /^listening \d+$/m,
    missing: () => null,
  },
};

// ---------------------------------------------------------------------------------------------------
// Scenarios: stress arguments for full and quick runs, and the metrics the table shows. The line
// protocol's are here; the IRC ones (issue #9) in issue9.ts, appended in ALL_SCENARIOS below.

const lat = (prefix: string): Metric[] => [
  { key: `${prefix}_p50_us`, better: 'lower', label: `${prefix} p50 µs` },
  { key: `${prefix}_p99_us`, better: 'lower', label: `${prefix} p99 µs` },
];

const SCENARIOS: ScenarioDef[] = [
  {
    name: 'fanout', args: ['--scenario', 'fanout', '--clients', '100', '--senders', '4', '--window', '16', '--size', '64'],
    full: ['--duration', '4', '--warmup', '1'], quick: ['--duration', '0.5', '--warmup', '0.2'],
    metrics: [
      { key: 'deliveries_per_s', better: 'higher', label: 'deliveries/s' },
      { key: 'server_cpu_ns_per_delivery', better: 'lower', label: 'server CPU ns/delivery' },
      ...lat('latency'),
    ],
  },
  {
    name: 'fanout-1000', args: ['--scenario', 'fanout', '--clients', '1000', '--senders', '4', '--window', '4', '--size', '64'],
    full: ['--duration', '4', '--warmup', '1'], quick: ['--clients', '200', '--duration', '0.5', '--warmup', '0.2'],
    metrics: [
      { key: 'deliveries_per_s', better: 'higher', label: 'deliveries/s' },
      { key: 'server_cpu_ns_per_delivery', better: 'lower', label: 'server CPU ns/delivery' },
      ...lat('latency'),
    ],
  },
  {
    // 200,000 deliveries/s offered: 2020 messages/s × 99 recipients.
    name: 'fanout-open', args: ['--scenario', 'fanout', '--clients', '100', '--senders', '4', '--rate', '2020', '--size', '64'],
    full: ['--duration', '4', '--warmup', '1'], quick: ['--duration', '0.5', '--warmup', '0.2'],
    metrics: [
      { key: 'deliveries_per_s', better: 'info', label: 'deliveries/s' },
      ...lat('latency'),
      { key: 'latency_max_us', better: 'lower', label: 'latency max µs' },
      { key: 'server_cpu_pct', better: 'lower', label: 'server CPU %' },
    ],
  },
  {
    name: 'rooms', args: ['--scenario', 'rooms', '--room-size', '10', '--window', '4'],
    full: ['--rooms', '1000', '--duration', '4', '--warmup', '1'], quick: ['--rooms', '100', '--duration', '0.5', '--warmup', '0.2'],
    metrics: [
      { key: 'deliveries_per_s', better: 'higher', label: 'deliveries/s' },
      { key: 'server_cpu_ns_per_delivery', better: 'lower', label: 'server CPU ns/delivery' },
      ...lat('latency'),
    ],
  },
  {
    name: 'idle', args: ['--scenario', 'idle'],
    // 19,000 of the 20,000 descriptors a process may hold here.
    full: ['--clients', '19000', '--duration', '3'], quick: ['--clients', '500', '--duration', '0.5'],
    metrics: [
      { key: 'rss_bytes_per_client', better: 'lower', label: 'RSS bytes/idle client' },
      { key: 'server_idle_cpu_pct', better: 'lower', label: 'server CPU % idle' },
      { key: 'broadcast_completion_us', better: 'lower', label: 'broadcast to all µs' },
      { key: 'setup_s', better: 'lower', label: 'connect+register s' },
    ],
  },
  {
    name: 'churn', args: ['--scenario', 'churn', '--parallel', '16'],
    full: ['--duration', '4', '--warmup', '1'], quick: ['--duration', '0.5', '--warmup', '0.2'],
    metrics: [
      { key: 'cycles_per_s', better: 'higher', label: 'cycles/s' },
      { key: 'server_cpu_us_per_cycle', better: 'lower', label: 'server CPU µs/cycle' },
      ...lat('cycle'),
    ],
  },
  {
    name: 'bigroom', args: ['--scenario', 'bigroom'],
    full: ['--clients', '10000', '--messages', '5'], quick: ['--clients', '500', '--messages', '3'],
    metrics: [
      { key: 'completion_p50_us', better: 'lower', label: 'last member has it, p50 µs' },
      { key: 'completion_max_us', better: 'lower', label: 'last member has it, max µs' },
      { key: 'latency_p50_us', better: 'lower', label: 'per-member p50 µs' },
    ],
  },
  {
    name: 'slowreader', args: ['--scenario', 'slowreader', '--clients', '20', '--senders', '4', '--window', '16'],
    full: ['--duration', '4', '--warmup', '1'], quick: ['--duration', '0.5', '--warmup', '0.2'],
    metrics: [
      { key: 'deliveries_per_s', better: 'higher', label: 'deliveries/s (others)' },
      { key: 'server_rss_growth_kb', better: 'lower', label: 'server RSS growth KiB' },
      { key: 'slow_reader_disconnected', better: 'info', label: 'slow reader dropped' },
    ],
  },
  {
    // Issue #8: 200 clients ask for /who of 5,000 users (a burst of 6, then 3 a second each: within the
    // default flood budget) and never read, while two users exchange private messages. The baselines
    // have no /who or /msg.
    name: 'listflood', args: ['--scenario', 'listflood', '--askers', '200', '--ask-burst', '6', '--ask-rate', '3', '--rate', '10'],
    full: ['--clients', '5000', '--duration', '5', '--warmup', '1'], quick: ['--clients', '1000', '--askers', '50', '--duration', '1', '--warmup', '0.2'],
    only: ['epchat'],
    metrics: [
      ...lat('pm_latency'),
      { key: 'pm_latency_max_us', better: 'lower', label: 'pm_latency max µs' },
      { key: 'server_cpu_pct', better: 'lower', label: 'server CPU %' },
      { key: 'server_rss_kb_max', better: 'lower', label: 'server RSS max KiB' },
    ],
  },
  {
    // listflood over IRC: the askers send WHO #channel (everyone is in it) and never read, two users
    // exchange PRIVMSGs. Fewer clients than listflood: each IRC join gets the channel's NAMES.
    name: 'listflood-irc', proto: 'irc',
    args: ['--proto', 'irc', '--scenario', 'listflood', '--askers', '200', '--ask-burst', '6', '--ask-rate', '3', '--rate', '10'],
    full: ['--clients', '2000', '--duration', '5', '--warmup', '1'], quick: ['--clients', '500', '--askers', '50', '--duration', '1', '--warmup', '0.2'],
    only: ['epchat-irc'],
    metrics: [
      ...lat('pm_latency'),
      { key: 'pm_latency_max_us', better: 'lower', label: 'pm_latency max µs' },
      { key: 'server_cpu_pct', better: 'lower', label: 'server CPU %' },
      { key: 'server_rss_kb_max', better: 'lower', label: 'server RSS max KiB' },
    ],
  },
];

const ALL_SCENARIOS: ScenarioDef[] = [...SCENARIOS, ...IRC_SCENARIOS, ...TRANSPORT_SCENARIOS];
const protoOf = (p: { proto?: Proto }): Proto => p.proto ?? 'line';
const transportOf = (s: ServerSpec): Transport => s.transport ?? 'tcp';
const tableOf = (sc: ScenarioDef): string => sc.table ?? protoOf(sc);
/** Whether `server` runs `sc`: same protocol, one of its transports, and in its `only` list if any. */
const runsOn = (server: string, sc: ScenarioDef): boolean => protoOf(SERVERS[server]!) === protoOf(sc) &&
  (sc.transports ?? ['tcp']).includes(transportOf(SERVERS[server]!)) && (sc.only === undefined || sc.only.includes(server));
const DEFAULT_SERVERS = 'epchat,plain,corked,cref,epchat-irc,cref-irc,inspircd,ngircd,' +
  'epchat-ws,cref-ws,epchat-ws-irc,cref-ws-irc,inspircd-ws,epchat-tls,cref-tls,epchat-tls-irc,cref-tls-irc,inspircd-tls,' +
  'epchat-wss,cref-wss';

// ---------------------------------------------------------------------------------------------------
// options

interface Options {
  quick: boolean;
  reps: number;
  servers: string[];
  scenarios: ScenarioDef[];
  pin: boolean;
  out: string;
  epchat: string;
}

const USAGE = `usage: node dist/bench/run.js [--quick] [--servers epchat,plain,corked,cref,...] [--scenarios fanout,rooms,...]
                         [--reps N] [--no-pin] [--out DIR] [--epchat DIR]   (docs/performance.md)`;
const VALUE_FLAGS = ['--servers', '--scenarios', '--reps', '--out', '--epchat'];
const BARE_FLAGS = ['--quick', '--no-pin'];

function parseOptions(argv: string[]): Options {
  // A mistyped flag (or --help) must not start a 20-minute run with the defaults.
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    if (VALUE_FLAGS.includes(a)) {
      if (argv[i + 1] === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      i++;
    } else if (!BARE_FLAGS.includes(a)) {
      throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  const servers = (value('--servers') ?? DEFAULT_SERVERS).split(',').filter(Boolean);
  for (const s of servers) if (!(s in SERVERS)) throw new Error(`unknown server ${s} (have ${Object.keys(SERVERS).join(', ')})`);
  const names = (value('--scenarios') ?? ALL_SCENARIOS.map((s) => s.name).join(',')).split(',').filter(Boolean);
  const scenarios = names.map((n) => {
    const def = ALL_SCENARIOS.find((s) => s.name === n);
    if (def === undefined) throw new Error(`unknown scenario ${n} (have ${ALL_SCENARIOS.map((s) => s.name).join(', ')})`);
    return def;
  });
  const reps = Number(value('--reps') ?? (quick ? 1 : 3));
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps wants a positive integer');
  return { quick, reps, servers, scenarios, pin: !argv.includes('--no-pin'), out: value('--out') ?? join(ROOT, 'bench', 'results'),
    epchat: resolve(value('--epchat') ?? ROOT) };
}

// ---------------------------------------------------------------------------------------------------
// processes

function hasTaskset(): boolean {
  return cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
}

let opensslChecked = false;

/** Builds a one-file C tool with cc when it is missing or older than its source. Both tools link
 *  OpenSSL (--tls): scripts/ensure-openssl.sh installs libssl-dev first when it is missing (as root). */
function ensureTool(bin: string, src: string): boolean {
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) return true;
  if (!opensslChecked) {
    const ok = spawnSync('bash', [join(ROOT, 'scripts', 'ensure-openssl.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (ok.status !== 0) return false;
    opensslChecked = true;
  }
  mkdirSync(dirname(bin), { recursive: true });
  const cc = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-o', bin, src, '-lssl', '-lcrypto'], { stdio: 'inherit' });
  return cc.status === 0;
}

function ensureStress(): void {
  if (!ensureTool(STRESS, join(ROOT, 'tools', 'stress', 'stress.c'))) throw new Error('could not build build-tools/stress');
}

function pinned(cpu: number, pin: boolean, args: string[]): [string, string[]] {
  return pin ? ['taskset', ['-c', String(cpu), ...args]] : [args[0]!, args.slice(1)];
}

interface RunningServer {
  child: ChildProcess;
  pid: number;
  port: number;
  output: () => string;
  dir: string;
}

function freePort(): Promise<number> {
  return new Promise((r, reject) => {
    const srv = createNetServer();
    srv.on('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => r(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((r) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => { sock.destroy(); r(true); });
    sock.once('error', () => { sock.destroy(); r(false); });
  });
}

async function startServer(name: string, pin: boolean): Promise<RunningServer> {
  const spec = SERVERS[name]!;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `epchat-bench-${name}-`));
  spec.prepare?.(port, dir);
  const [cmd, args] = pinned(0, pin, [spec.command?.() ?? process.execPath, ...spec.args(port, dir)]);
  const child = spawn(cmd, args, { cwd: spec.cwdRunDir === true ? dir : ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  let exited = false;
  const collect = (chunk: Buffer): void => { text += chunk.toString(); };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  child.once('exit', () => { exited = true; });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !exited) {
    if (spec.readyPattern.test(text) || (await accepts(port))) {
      return { child, pid: child.pid!, port, output: () => text, dir };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`${name} ${exited ? `exited (${child.exitCode})` : 'did not listen within 15 s'} on port ${port}:\n${text.slice(-2000)}`);
}

async function stopServer(server: RunningServer): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    const exited = new Promise<void>((r) => server.child.once('exit', () => r()));
    server.child.kill('SIGTERM');
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(server.dir, { recursive: true, force: true });
}

interface ToolResult {
  code: number | null;
  json: Record<string, unknown> | null;
  stderr: string;
}

function runStress(args: string[], pin: boolean, timeoutMs: number): Promise<ToolResult> {
  const [cmd, argv] = pinned(1, pin, [STRESS, ...args]);
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((r) => {
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      let json: Record<string, unknown> | null = null;
      try {
        json = line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : null;
      } catch {
        json = null;
      }
      r({ code, json, stderr: err });
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// one run

interface RunRecord {
  server: string;
  scenario: string;
  rep: number;
  ok: boolean;
  exitCode: number | null;
  error?: string;
  result: Record<string, unknown> | null;
}

/** Fields computed from the tool's output. */
function derive(r: Record<string, unknown>): void {
  const num = (k: string): number => (typeof r[k] === 'number' ? (r[k] as number) : NaN);
  if (r['scenario'] === 'churn') {
    const cycles = num('cycles_per_s') * num('window_s');
    if (cycles > 0 && Number.isFinite(num('server_cpu_s'))) r['server_cpu_us_per_cycle'] = (num('server_cpu_s') * 1e6) / cycles;
  }
  if (Number.isFinite(num('server_rss_kb_max')) && Number.isFinite(num('server_rss_kb_start'))) {
    r['server_rss_growth_kb'] = num('server_rss_kb_max') - num('server_rss_kb_start');
  }
  if (Number.isFinite(num('rss_bytes_per_client'))) r['rss_kib_per_client'] = num('rss_bytes_per_client') / 1024;
}

async function runOne(server: string, sc: ScenarioDef, rep: number, opts: Options): Promise<RunRecord> {
  const record: RunRecord = { server, scenario: sc.name, rep, ok: false, exitCode: null, result: null };
  let srv: RunningServer | null = null;
  try {
    ensureStress(); /* node-gyp rebuild wipes build/, so check before every run */
    srv = await startServer(server, opts.pin);
    const timeoutS = opts.quick ? 30 : 90;
    const args = ['--port', String(srv.port), '--server-pid', String(srv.pid), '--json', '--timeout', String(timeoutS),
      ...sc.args, ...(opts.quick ? sc.quick : sc.full), ...(SERVERS[server]!.stressArgs ?? [])];
    const res = await runStress(args, opts.pin, (timeoutS + 15) * 1000);
    record.exitCode = res.code;
    record.result = res.json;
    if (res.json !== null) derive(res.json);
    record.ok = res.code === 0 && res.json !== null;
    if (!record.ok) record.error = res.stderr.split('\n').filter((l) => l.startsWith('stress:')).join(' ') || `exit ${res.code}`;
  } catch (e) {
    record.error = (e as Error).message;
  } finally {
    if (srv !== null) await stopServer(srv);
  }
  return record;
}

// ---------------------------------------------------------------------------------------------------
// summary

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

type Summary = Record<string, Record<string, Record<string, number | boolean>>>;

/** summary[scenario][server][field]: median of numeric fields over repetitions; booleans are true if
 *  true in any repetition (so tool_saturated marks a lower bound). */
function summarize(runs: RunRecord[]): Summary {
  const out: Summary = {};
  for (const r of runs) {
    if (r.result === null) continue;
    const bucket = ((out[r.scenario] ??= {})[r.server] ??= {});
    for (const [k, v] of Object.entries(r.result)) {
      if (typeof v === 'boolean') bucket[k] = bucket[k] === true || v;
    }
  }
  for (const [scenario, byServer] of Object.entries(out)) {
    for (const [server, bucket] of Object.entries(byServer)) {
      const mine = runs.filter((r) => r.scenario === scenario && r.server === server && r.result !== null);
      const keys = new Set(mine.flatMap((r) => Object.keys(r.result!)));
      for (const k of keys) {
        const xs = mine.map((r) => r.result![k]).filter((v): v is number => typeof v === 'number');
        if (xs.length) bucket[k] = median(xs);
      }
      bucket['reps_ok'] = mine.filter((r) => r.ok).length;
    }
  }
  return out;
}

/** How many times better `server` is than `base` on a metric (>1 = better). */
function ratio(m: Metric, server: number, base: number): number | null {
  if (m.better === 'info' || !(server > 0) || !(base > 0)) return null;
  return m.better === 'higher' ? server / base : base / server;
}

function fmt(v: number | boolean | undefined): string {
  if (v === undefined) return '–';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 0);
}

/** Each server against each baseline that ran: epchat vs plain, epchat vs corked, corked vs plain;
 *  then the reference pairs of issue #9 that ran (epchat vs cref, the IRC servers vs cref-irc, …). */
function comparePairs(servers: string[]): Array<readonly [string, string]> {
  const rank = (s: string): number => (BASELINES.includes(s) ? BASELINES.indexOf(s) : BASELINES.length);
  const base = servers.flatMap((s) => servers.filter((b) => BASELINES.includes(b) && rank(b) < rank(s) && s !== 'cref')
    .map((b) => [s, b] as const));
  return [...base, ...[...REFERENCE_PAIRS, ...TRANSPORT_PAIRS].filter(([a, b]) => servers.includes(a) && servers.includes(b))];
}

function markdown(summary: Summary, servers: string[], scenarios: ScenarioDef[]): string {
  const pairs = comparePairs(servers);
  const head = ['scenario', 'metric', ...servers, ...pairs.map(([s, b]) => `${s} vs ${b}`)];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const sc of scenarios) {
    const byServer = summary[sc.name] ?? {};
    for (const m of sc.metrics) {
      const cells = servers.map((s) => {
        const v = byServer[s]?.[m.key];
        const sat = byServer[s]?.['tool_saturated'] === true && m.better !== 'info' && m.key.includes('per_s') ? ' (≥, tool saturated)' : '';
        return fmt(v) + sat;
      });
      const ratios = pairs.map(([s, b]) => {
        const r = ratio(m, byServer[s]?.[m.key] as number, byServer[b]?.[m.key] as number);
        return r === null ? '' : `${r.toFixed(r < 10 ? 2 : 1)}×`;
      });
      lines.push(`| ${sc.name} | ${m.label} | ${[...cells, ...ratios].join(' | ')} |`);
    }
  }
  return lines.join('\n') + '\n\nRatios: how many times better the first server is (higher-is-better metrics: a/b; lower-is-better: b/a).\n';
}

/** The targets of issues #3 and #8, checked when epchat ran (informational; the run does not fail on them).
 *  "lower bound" marks a ratio measured while the stress tool, not the server, was the limit. */
function targets(summary: Summary): string[] {
  const num = (sc: string, srv: string, key: string) => summary[sc]?.[srv]?.[key] as number | undefined;
  const saturated = (sc: string) => summary[sc]?.['epchat']?.['tool_saturated'] === true;
  const out: string[] = [];
  const verdict = (ok: boolean, sc: string) => (ok ? 'PASS' : saturated(sc) ? 'FAIL (lower bound: the tool saturated)' : 'FAIL');
  // how many times better epchat is than a baseline on a metric
  const times = (sc: string, key: string, base: string, better: 'higher' | 'lower') => {
    const e = num(sc, 'epchat', key);
    const b = num(sc, base, key);
    if (e === undefined || b === undefined || e === 0 || b === 0) return undefined;
    return better === 'higher' ? e / b : b / e;
  };
  const ratioTarget = (label: string, sc: string, key: string, base: string, better: 'higher' | 'lower', want: number) => {
    const r = times(sc, key, base, better);
    if (r !== undefined) out.push(`${label} vs ${base}: ${r.toFixed(2)}× (target ≥ ${want}×): ${verdict(r >= want, sc)}`);
  };
  const limit = (label: string, sc: string, key: string, max: number, unit: string) => {
    const v = num(sc, 'epchat', key);
    if (v !== undefined) out.push(`${label}: ${v.toFixed(v < 10 ? 2 : 0)} ${unit} (target ≤ ${max} ${unit}): ${verdict(v <= max, sc)}`);
  };
  ratioTarget('fanout 100, CPU per delivery', 'fanout', 'server_cpu_ns_per_delivery', 'plain', 'lower', 25);
  ratioTarget('fanout 100, CPU per delivery', 'fanout', 'server_cpu_ns_per_delivery', 'corked', 'lower', 5);
  ratioTarget('fanout 100, deliveries/s', 'fanout', 'deliveries_per_s', 'plain', 'higher', 15);
  ratioTarget('fanout 100, deliveries/s', 'fanout', 'deliveries_per_s', 'corked', 'higher', 3);
  ratioTarget('fanout 1000, deliveries/s', 'fanout-1000', 'deliveries_per_s', 'plain', 'higher', 10);
  limit('200k deliveries/s offered, p50', 'fanout-open', 'latency_p50_us', 1500, 'µs');
  limit('200k deliveries/s offered, p99', 'fanout-open', 'latency_p99_us', 5000, 'µs');
  ratioTarget('200k deliveries/s offered, p99', 'fanout-open', 'latency_p99_us', 'corked', 'lower', 3);
  limit('idle, RSS per client', 'idle', 'rss_bytes_per_client', 512, 'bytes');
  limit('idle, server CPU', 'idle', 'server_idle_cpu_pct', 2, '%');
  ratioTarget('churn, cycles/s', 'churn', 'cycles_per_s', 'plain', 'higher', 3);
  limit('big room, last of the members has it (p50)', 'bigroom', 'completion_p50_us', 20000, 'µs');
  limit('200 non-reading /who askers, 5,000 users: private message p50 (issue #8)', 'listflood', 'pm_latency_p50_us', 50000, 'µs');
  limit('200 non-reading IRC WHO askers, 2,000 users: private message p50', 'listflood-irc', 'pm_latency_p50_us', 50000, 'µs');
  return out;
}

function machine(pin: boolean): Record<string, unknown> {
  const git = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const epchat = EPCHAT_ROOT === ROOT ? {}
    : { epchat: EPCHAT_ROOT, epchatCommit: spawnSync('git', ['rev-parse', 'HEAD'], { cwd: EPCHAT_ROOT, encoding: 'utf8' }).stdout.trim() };
  return {
    cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, kernel: release(), node: process.version,
    memoryGiB: Math.round(totalmem() / 2 ** 30), pinned: pin ? 'server cpu 0, tool cpu 1' : 'no', commit: git.stdout.trim(), ...epchat,
  };
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  opts.pin = opts.pin && hasTaskset();
  EPCHAT_ROOT = opts.epchat;
  ensureStress();
  const skipped = new Map<string, string>();
  const servers = opts.servers.filter((s) => {
    if (!opts.scenarios.some((sc) => runsOn(s, sc))) return false; /* no scenario for it: not even checked */
    const why = SERVERS[s]!.missing();
    if (why !== null) {
      process.stderr.write(`bench: skipping ${s}: ${why}\n`);
      skipped.set(s, why);
    }
    return why === null;
  });
  const started = Date.now();
  const runs: RunRecord[] = [];
  for (let rep = 1; rep <= opts.reps; rep++) {
    for (const sc of opts.scenarios) {
      for (const server of servers.filter((s) => runsOn(s, sc))) {
        const r = await runOne(server, sc, rep, opts);
        runs.push(r);
        const t = ((Date.now() - started) / 1000).toFixed(0);
        process.stderr.write(`bench: [${t}s] rep ${rep} ${sc.name} ${server}: ${r.ok ? 'ok' : `FAILED ${r.error ?? ''}`}\n`);
      }
    }
  }
  const summary = summarize(runs);
  const tables = [...new Set(opts.scenarios.map(tableOf))];
  const table = tables.map((t) => {
    const scs = opts.scenarios.filter((sc) => tableOf(sc) === t);
    const head = tables.length > 1 ? `${t}:\n\n` : '';
    return head + markdown(summary, servers.filter((s) => scs.some((sc) => runsOn(s, sc))), scs);
  }).join('\n');
  const names = opts.scenarios.map((sc) => sc.name);
  const checks = [...targets(summary), ...issue9Targets(summary, skipped, names, opts.quick), ...issue10Targets(summary, skipped, names)];
  const when = new Date().toISOString().replace(/:/g, '-').replace(/\..*/, '');
  mkdirSync(opts.out, { recursive: true });
  const file = join(opts.out, `${when}${opts.quick ? '-quick' : ''}.json`);
  const doc = { date: new Date().toISOString(), machine: machine(opts.pin), quick: opts.quick, reps: opts.reps,
    servers, skipped: Object.fromEntries(skipped),
    scenarios: opts.scenarios.map((s) => ({ name: s.name, args: [...s.args, ...(opts.quick ? s.quick : s.full)] })),
    summary, targets: checks, runs };
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  process.stdout.write(`${table}\n${checks.map((c) => `- ${c}`).join('\n')}\n\nmedians of ${opts.reps} run(s); saved ${file} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  return runs.every((r) => r.ok) ? 0 : 1;
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exit(2);
});
