// Fixtures for the browser test of the web client: the IRC-over-WebSocket server under test, a tiny
// static file server for dist/web/, and Chromium driven by playwright-core.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { createServer, type ChatServer } from '../lib/index.js';

export interface WsServer {
  /** ws:// URL of the IRC-over-WebSocket listener (subprotocol text.ircv3.net). */
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = createNetServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * The server under test: today InspIRCd 3 with m_websocket (Debian's inspircd), run in the foreground
 * with a throw-away configuration on a loopback port. When epchat serves WebSocket itself, this
 * fixture starts epchat instead and returns its listener's URL.
 */
export async function startIrcWsServer(port?: number): Promise<WsServer> {
  const bin = '/usr/sbin/inspircd';
  if (!existsSync(bin)) throw new Error(`${bin} is missing (apt-get install inspircd)`);
  const dir = mkdtempSync(join(tmpdir(), 'epchat-ircd-'));
  const wsPort = port ?? (await freePort());
  writeFileSync(join(dir, 'motd.txt'), 'epchat web client test server\n');
  writeFileSync(
    join(dir, 'inspircd.conf'),
    `<config format="xml">
<server name="irc.test" description="epchat web test" network="EpchatTest">
<admin name="test" nick="test" email="test@localhost">
<bind address="127.0.0.1" port="${wsPort}" type="clients" hook="websocket">
<connect name="main" allow="*" maxchans="50" localmax="1000" globalmax="1000" limit="1000" threshold="1000"
  commandrate="100000" recvq="65536" sendq="1048576" pingfreq="120" timeout="60" useident="no" resolvehostnames="no">
<module name="cap">
<module name="sha1">
<module name="websocket">
<module name="ircv3">
<module name="ircv3_servertime">
<module name="namesx">
<websocket sendastext="yes">
<wsorigin allow="*">
<options>
<performance netbuffersize="10240" somaxconn="128" softlimit="1024" clonesonconnect="no" quietbursts="yes">
<security hidesplits="no" hidebans="no" runasuser="" runasgroup="">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="${dir}/ircd.log">
<files motd="${dir}/motd.txt">
<dns timeout="1" server="127.0.0.1">
<path configdir="${dir}" datadir="${dir}" logdir="${dir}" moduledir="/usr/lib/inspircd/modules">
`,
  );
  const args = ['--nofork', '--nopid', `--config=${join(dir, 'inspircd.conf')}`];
  if (process.getuid?.() === 0) args.push('--runasroot');
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolveReady, reject) => {
    const onData = (b: Buffer): void => {
      out += b.toString();
      if (out.includes('is now running')) resolveReady();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`inspircd exited (${code}) before it was ready:\n${out}`)));
  });
  // Ready means bound; check that the port answers before handing it out.
  const sock = connect(wsPort, '127.0.0.1');
  await once(sock, 'connect');
  sock.destroy();
  return {
    url: `ws://127.0.0.1:${wsPort}/`,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface EpchatWeb {
  server: ChatServer;
  /** http://127.0.0.1:PORT: the web client at `/`, WebSocket upgrades on the same origin. */
  origin: string;
  httpPort: number;
  /** The line protocol's TCP port (the `nc` user). */
  linePort: number;
  stop(): Promise<void>;
}

export interface EpchatPorts {
  httpPort: number;
  linePort: number;
}

/**
 * The server under test: epchat in this process (lib's ChatServer) with its HTTP listener (the web
 * client from dist/web at `/`, WebSocket on the same origin) and its line listener, both on ephemeral
 * loopback ports unless `ports` names them (a restart on the same ports). IRC's own TCP listener is off.
 * `dataDir` keeps the accounts across restarts.
 */
export async function startEpchat(dataDir: string, ports?: EpchatPorts): Promise<EpchatWeb> {
  const server = createServer({
    host: '127.0.0.1',
    port: ports?.linePort ?? 0,
    ircPort: -1,
    httpPort: ports?.httpPort ?? 0,
    logLevel: 'silent',
    console: false,
    handleSignals: false,
    dataDir,
  } as Parameters<typeof createServer>[0]);
  const line = await server.listen();
  // TODO(h-ws): ChatServer.httpAddress() arrives with the HTTP listener.
  const http = (server as unknown as { httpAddress?(): { port: number } | null }).httpAddress?.() ?? null;
  if (!http) {
    await server.close();
    throw new Error('epchat started without its HTTP listener');
  }
  return {
    server,
    origin: `http://127.0.0.1:${http.port}`,
    httpPort: http.port,
    linePort: line.port,
    async stop() {
      await server.close();
    },
  };
}

/** Every process descended from this one (from /proc): what the test must have stopped at its end. */
export function descendants(): string[] {
  const children = new Map<number, number[]>();
  const names = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
    const close = stat.lastIndexOf(')');
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    const pid = Number(entry);
    names.set(pid, stat.slice(stat.indexOf('(') + 1, close));
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: string[] = [];
  const walk = (pid: number): void => {
    for (const c of children.get(pid) ?? []) {
      out.push(`${c} ${names.get(c)}`);
      walk(c);
    }
  };
  walk(process.pid);
  return out;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

export interface StaticServer {
  origin: string;
  stop(): Promise<void>;
}

/** Serves a directory over HTTP on an ephemeral loopback port (GET only, no listing, no escaping root). */
export async function startStaticServer(root: string): Promise<StaticServer> {
  const base = resolve(root);
  const server: Server = createHttpServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(base, path === '/' ? 'index.html' : path));
    if (req.method !== 'GET' || !file.startsWith(base + sep) || !existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export interface Viewport {
  width: number;
  height: number;
  mobile?: boolean;
}

/** Launches Debian's chromium headless with a fresh profile directory (one per simulated user). */
export async function launchBrowser(viewport: Viewport, colorScheme: 'light' | 'dark' = 'light'): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/ensure-chromium.sh`);
  const profile = mkdtempSync(join(tmpdir(), 'epchat-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: viewport.width, height: viewport.height },
    deviceScaleFactor: viewport.mobile ? 2 : 1,
    isMobile: viewport.mobile ?? false,
    hasTouch: viewport.mobile ?? false,
    colorScheme,
    timeout: 30000,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
