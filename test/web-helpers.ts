// Fixtures for the browser test of the web client: epchat serving it (HTTP + WebSocket, and the line
// protocol for an `nc`-style user), Chromium driven by playwright-core, and a check that nothing the
// test started is left running.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { createServer, type ChatServer } from '../lib/index.js';

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
  const http = server.httpAddress();
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
