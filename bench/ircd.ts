// InspIRCd and ngIRCd (Debian packages) as IRC comparison servers for bench/run.ts: where the binary
// is, installing it with apt-get when missing (only as root; said on stderr), and a minimal config
// written into the run's temporary directory: loopback only, an ephemeral port, no DNS or ident
// lookups, and flood/connection limits raised so the bench's clients are neither throttled nor killed.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerSpec } from './spec.js';

function which(bin: string): string | null {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
    if (existsSync(join(dir, bin))) return join(dir, bin);
  }
  return null;
}

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;
const tried = new Map<string, string | null>();

/** The binary's path, installing the Debian package when it is missing and we are root; null and a
 *  reason otherwise. Tried once per run. */
export function ensureInstalled(pkg: string, bin: string): { path: string | null; why: string | null } {
  const found = which(bin);
  if (found !== null) return { path: found, why: null };
  if (tried.has(pkg)) return { path: which(bin), why: tried.get(pkg) ?? null };
  let why: string | null = null;
  if (!isRoot()) {
    why = `${bin} is not installed and the bench is not root (install the Debian package: apt-get install ${pkg})`;
  } else if (which('apt-get') === null) {
    why = `${bin} is not installed and there is no apt-get here`;
  } else {
    process.stderr.write(`bench: ${bin} is missing: installing the Debian package ${pkg} with apt-get (running as root)\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { stdio: ['ignore', 'ignore', 'inherit'], env });
    let res = install();
    if (res.status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'], env });
      res = install();
    }
    if (res.status !== 0 || which(bin) === null) why = `apt-get install ${pkg} failed (exit ${res.status})`;
    else process.stderr.write(`bench: installed ${pkg}\n`);
  }
  tried.set(pkg, why);
  return { path: which(bin), why };
}

// ---------------------------------------------------------------------------------------------------
// InspIRCd 3 (tested with Debian's 3.15). No modules are loaded: the core alone (no ident, and
// resolvehostnames="no" means no DNS). The connect class lifts every per-user limit the bench would
// hit: penalty threshold and command rate (fakelag off), send/receive queues, clones per IP.
// For bench/transports.ts: with `tls` (inspircd-tls), m_ssl_gnutls, an sslprofile on that certificate
// and key, and the client port bound to it; with `ws` (inspircd-ws), m_websocket (and m_sha1, which
// it needs) hooked on the client port, text frames, any origin.

export interface InspircdTransport {
  tls?: { cert: string; key: string };
  ws?: boolean;
}

export function inspircdConfig(port: number, dir: string, t: InspircdTransport = {}): string {
  const ssl = t.tls === undefined ? '' : `<module name="ssl_gnutls">
<sslprofile name="bench" provider="gnutls" certfile="${t.tls.cert}" keyfile="${t.tls.key}" hash="sha256" requestclientcert="no">
`;
  const ws = t.ws !== true ? '' : `<module name="sha1">
<module name="websocket">
<websocket sendastext="yes">
<wsorigin allow="*">
`;
  const hooks = `${t.tls === undefined ? '' : ' sslprofile="bench"'}${t.ws === true ? ' hook="websocket"' : ''}`;
  return `<server name="inspircd.bench" description="epchat bench" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
${ssl}${ws}<bind address="127.0.0.1" port="${port}" type="clients"${hooks}>
<connect name="bench" allow="*" maxchans="20" timeout="60" pingfreq="10m"
         hardsendq="64M" softsendq="64M" recvq="64M" threshold="1000000" commandrate="1000000000"
         fakelag="no" localmax="100000" globalmax="100000" limit="100000"
         resolvehostnames="no" useident="no">
<performance netbuffersize="65536" somaxconn="4096" softlimit="20000" clonesonconnect="no" timeskipwarn="0" quietbursts="yes">
<options syntaxhints="no" announcets="no">
<security hideserver="" userstats="Pu" customversion="" maxtargets="20">
<channels users="100" opers="100">
<limits maxnick="30" maxchan="60">
<dns timeout="1">
<files motd="/dev/null">
<path datadir="${dir}" logdir="${dir}">
`;
}

let inspircdPath: string | null = null;

export const INSPIRCD: ServerSpec = {
  proto: 'irc',
  command: () => inspircdPath ?? 'inspircd',
  prepare: (port, dir) => writeFileSync(join(dir, 'inspircd.conf'), inspircdConfig(port, dir)),
  // --runasroot: it refuses root otherwise; it only listens on loopback here.
  args: (_port, dir) => [`--config=${join(dir, 'inspircd.conf')}`, '--nofork', '--nopid', ...(isRoot() ? ['--runasroot'] : [])],
  readyPattern: /InspIRCd is now running/,
  missing: () => {
    const r = ensureInstalled('inspircd', 'inspircd');
    inspircdPath = r.path;
    return r.why;
  },
};

// ---------------------------------------------------------------------------------------------------
// ngIRCd 26 (Debian's 26.1). Its flood protection cannot be configured per class: a user's
// connection is processed 3 commands per pass and throttled past 256 bytes/s unless the user has
// mode +F (relaxed flood protection), which only an IRC operator may set. So the senders OPER and
// set +F (stress --irc-oper/--irc-umode); receivers only ever send JOIN and PONG.

const NGIRCD_OPER = 'bench:bench';

function ngircdConfig(port: number): string {
  return `[Global]
Name = ngircd.bench
Info = epchat bench
AdminInfo1 = bench
AdminInfo2 = bench
AdminEMail = bench@localhost
Listen = 127.0.0.1
Ports = ${port}
MotdPhrase = bench
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxNickLength = 30
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
NoticeBeforeRegistration = no
OperCanUseMode = yes
[Operator]
Name = ${NGIRCD_OPER.split(':')[0]}
Password = ${NGIRCD_OPER.split(':')[1]}
`;
}

let ngircdPath: string | null = null;

export const NGIRCD: ServerSpec = {
  proto: 'irc',
  command: () => ngircdPath ?? 'ngircd',
  prepare: (port, dir) => writeFileSync(join(dir, 'ngircd.conf'), ngircdConfig(port)),
  // -n: foreground, log to stderr. As root it switches to "nobody" after binding (its default).
  args: (_port, dir) => ['-n', '-f', join(dir, 'ngircd.conf')],
  // Its listen backlog is hard-wired small (10): more connects in flight overflow it and the kernel's
  // SYN retransmission back-off (1, 2, 4 … s) stalls the setup for minutes.
  stressArgs: ['--irc-oper', NGIRCD_OPER, '--irc-umode', '+F', '--connect-parallel', '8'],
  readyPattern: /Server "ngircd\.bench" .*ready/,
  missing: () => {
    const r = ensureInstalled('ngircd', 'ngircd');
    ngircdPath = r.path;
    return r.why;
  },
};

