// The `epchat` command: runs the server (default), or the terminal client (`epchat connect`).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  diffConfig, parseArgs, renderHelp, resolveConfigDetailed, RELOADABLE,
  type Config, type ResolveInput,
} from './config.js';
import { EpchatError, hasCode, type ConfigIssue } from './errors.js';
import { colourAllowed, createLogger, type Logger } from './log.js';
import { ConsoleScreen, attachConsole } from './admin-console.js';
import { createServer, type ChatServer } from './server.js';
import { runClient, CLIENT_USAGE } from './client.js';
import { CERT_USAGE, certHowTo, makeDevCert } from './cert.js';
import type { EngineStats } from './native.js';

/** Exit codes. */
const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
/** 128 + SIGINT, when a second signal cuts a graceful shutdown short. */
const EXIT_INTERRUPTED = 130;

/** How long after the engine's own deadline the CLI gives up waiting for `closed`. */
const CLOSE_MARGIN_MS = 5000;

const CLI_DEFAULTS: Partial<Config> = { handleSignals: true };

export function packageVersion(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, '..', '..', 'package.json'), join(here, '..', 'package.json')]) {
    try {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'epchat' && pkg.version) return pkg.version;
    } catch { /* try the next */ }
  }
  return 'unknown';
}

export function usage(): string {
  return [
    'Usage:',
    '  epchat [options]               run the chat server',
    `  ${CLIENT_USAGE}`,
    `  ${CERT_USAGE}`,
    '  epchat --help | --version',
    '',
    'Options (precedence: defaults < config file < EPCHAT_* environment < flags):',
    renderHelp(),
    '',
    'Signals: SIGINT/SIGTERM shut down gracefully (exit 0; a second one exits at once with 130); SIGHUP',
    're-reads the config file and applies the reloadable settings (and reloads the TLS certificate and',
    'key). With a terminal on stdin, the admin',
    'console reads commands (try /help) at its epchat> prompt; while it is on, its replies go to stdout',
    'and the log to stderr.',
    '',
  ].join('\n');
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === 'connect') return runClient(rest);
  if (first === 'cert') return runCert(rest);
  if (first === 'help') return print(usage());
  if (first === 'version') return print(`${packageVersion()}\n`);
  return runServer(argv);
}

/** `epchat cert [DIR] [--force]`. */
function runCert(argv: readonly string[]): number {
  let dir: string | undefined;
  let force = false;
  for (const a of argv) {
    if (a === '--force') force = true;
    else if (a === '-h' || a === '--help') return print(`Usage: ${CERT_USAGE}\n`);
    else if (a.startsWith('-') || dir !== undefined) return fail(`cert: unexpected argument ${a}\nUsage: ${CERT_USAGE}`, EXIT_USAGE);
    else dir = a;
  }
  if (dir === undefined) {
    try {
      dir = join(resolveConfigDetailed({ env: process.env }).config.dataDir, 'tls');
    } catch (err) {
      return fail(err instanceof Error ? err.message : String(err), EXIT_USAGE);
    }
  }
  const r = makeDevCert(dir, force);
  if (!r.ok) return fail(`cert: ${r.output.trim()}`, EXIT_FAILURE);
  return print(`${r.output}${certHowTo(r.cert, r.key)}`);
}

function print(text: string): number {
  process.stdout.write(text);
  return EXIT_OK;
}

function fail(message: string, code: number): number {
  process.stderr.write(`epchat: ${message}\n`);
  return code;
}

async function runServer(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.help) return print(usage());
  if (args.version) return print(`${packageVersion()}\n`);

  const input: ResolveInput = { argv, env: process.env, defaults: CLI_DEFAULTS };
  let config: Config;
  let configFile: string | undefined;
  let warnings: ConfigIssue[];
  try {
    ({ config, configFile, warnings } = resolveConfigDetailed(input));
  } catch (err) {
    if (err instanceof EpchatError) return fail(`${err.message}\nRun 'epchat --help' for the settings.`, EXIT_USAGE);
    throw err;
  }

  // With the console on, its replies have stdout and the log goes to stderr.
  const screen = config.console ? new ConsoleScreen(process.stdout, process.stdin.isTTY === true && process.stdout.isTTY === true) : undefined;
  const log = createLogger({
    level: config.logLevel, format: config.logFormat,
    ...(screen ? { destination: screen.logStream(2), colorize: colourAllowed(process.stderr) } : {}),
  });
  for (const w of warnings) log.warn({ variable: w.key }, `${w.key} (from the ${w.source}) ${w.problem}`);
  const server = createServer(config, { logger: log });
  if (screen) attachConsole(server, screen);
  const finished = supervise(server, log, input, configFile);

  try {
    await server.listen();
    const line = server.address();
    if (line) log.info({ host: line.host, port: line.port, version: packageVersion() }, `epchat listening on ${line.host}:${line.port}`);
    else log.info({ version: packageVersion() }, 'epchat: the line protocol listener is off (port -1)');
    const irc = server.ircAddress();
    if (irc) log.info({ host: irc.host, port: irc.port }, `IRC listening on ${irc.host}:${irc.port}`);
    for (const [what, a] of [['TLS', server.tlsAddress()], ['IRC over TLS', server.ircTlsAddress()], ['HTTPS (web client, WebSocket)', server.httpsAddress()]] as const) {
      if (a) log.info({ host: a.host, port: a.port }, `${what} listening on ${a.host}:${a.port}`);
    }
    const http = server.httpAddress();
    if (http) log.info({ host: http.host, port: http.port }, `HTTP (web client, WebSocket) listening on ${http.host}:${http.port}`);
    screen?.ready();
  } catch (err) {
    if (hasCode(err) && err.code.startsWith('EPCHAT_')) log.fatal({ code: err.code }, err.message);
    else if (hasCode(err)) log.fatal({ code: err.code }, `cannot listen on ${config.host}:${config.port}: ${err.code}`);
    else log.fatal({ err }, `cannot listen on ${config.host}:${config.port}`);
    return EXIT_FAILURE;
  }
  return finished;
}

/** Wires the running server to the process: console output, signals, final stats. Resolves with the
 *  exit code once the engine has stopped. */
function supervise(server: ChatServer, log: Logger, input: ResolveInput, configFile: string | undefined): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    let deadline: NodeJS.Timeout | undefined;

    server.on('close', (stats) => {
      clearTimeout(deadline);
      reportStats(log, server.config, stats);
      resolve(EXIT_OK);
    });

    const shutdown = (signal: string, engineDoesIt: boolean) => {
      if (stopping) {
        log.warn(`${signal} again: exiting without waiting`);
        resolve(EXIT_INTERRUPTED);
        return;
      }
      stopping = true;
      log.info(`${signal}: shutting down (grace ${server.config.shutdownGraceMs} ms)`);
      if (!engineDoesIt) void server.close();
      deadline = setTimeout(() => {
        log.error('the engine did not stop in time: exiting');
        resolve(EXIT_FAILURE);
      }, server.config.shutdownGraceMs + CLOSE_MARGIN_MS);
    };

    const onSignal = (signal: string, engineDoesIt: boolean) => {
      if (signal === 'SIGHUP') reloadConfig(server, log, input, configFile);
      else shutdown(signal, engineDoesIt);
    };

    if (server.config.handleSignals) {
      server.on('signal', (signal) => onSignal(signal, true));
      // The engine takes SIGINT/SIGTERM while it runs and gives them back when it stops; a signal after
      // that (the storage still closing) must not kill the process with the default action. Installed
      // before listen(), so the engine saves these handlers and restores them, never the reverse.
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => shutdown(signal, false));
    } else {
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => onSignal(signal, false));
    }
  });
}

/** SIGHUP: resolve the configuration again (the file may have changed; env and flags still apply on
 *  top) and apply what may change while running. */
function reloadConfig(server: ChatServer, log: Logger, input: ResolveInput, configFile: string | undefined): void {
  // The certificate and key are read again from the same paths (renewed files): new TLS clients get
  // them, connected ones stay. A failure keeps the old pair and says why.
  if (server.config.tlsCert !== '') {
    server.reloadTls().catch((err: unknown) => log.error({ code: (err as { code?: string }).code }, err instanceof Error ? err.message : String(err)));
  }
  let next: Config;
  try {
    next = resolveConfigDetailed(input).config;
  } catch (err) {
    log.error(`reload failed, nothing changed: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  const changes = diffConfig(server.config, next);
  const fixed = changes.filter((c) => !RELOADABLE.includes(c.name));
  if (fixed.length > 0) {
    log.warn({ settings: fixed.map((c) => c.name) }, `reload: ${fixed.map((c) => c.name).join(', ')} changed but need a restart`);
  }
  const update = Object.fromEntries(changes.filter((c) => RELOADABLE.includes(c.name)).map((c) => [c.name, c.to]));
  const applied = server.reload(update);
  if (applied.length === 0) {
    log.info(`reload${configFile ? ` of ${configFile}` : ''}: no reloadable setting changed`);
    return;
  }
  for (const c of applied) {
    log.info({ setting: c.name, from: c.from, to: c.to }, `reload: ${c.name} ${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`);
  }
}

/** The final counters: one readable block in a terminal-style log, one JSON record otherwise. */
function reportStats(log: Logger, config: Config, s: EngineStats): void {
  if (config.logFormat === 'json') {
    log.info({ stats: s }, 'epchat stopped');
    return;
  }
  log.info('epchat stopped');
  const rows: Array<[string, string]> = [
    ['uptime', `${s.uptime_s} s`],
    ['users', `${s.users} now, ${s.peak_users} at peak`],
    ['connections', `${s.connections} now, ${s.accepted} accepted, ${s.rejected_full} refused (full), ${s.dropped_slow} dropped (slow)`],
    ['messages in', String(s.messages_in)],
    ['deliveries', String(s.deliveries)],
    ['bytes', `${s.bytes_in} in, ${s.bytes_out} out`],
    ['rooms', String(s.rooms)],
    ['latency', `${s.latency_mean_us} us mean, ${s.latency_p99_us} us p99`],
  ];
  if (config.tlsCert !== '') {
    rows.push(['tls', `${s.tls_handshakes} handshakes, ${s.tls_failed} failed, ${s.tls_plaintext} plaintext clients answered, ${s.tls_timeouts} timed out`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  process.stdout.write(`final stats:\n${rows.map(([k, v]) => `  ${k.padEnd(width)}${v}`).join('\n')}\n`);
}
