// IRC test helpers: a raw IRC client over node:net (the line client, with CRLF-terminated lines
// checked and stripped), and registration.
import type tls from 'node:tls';
import { LineClient, DEFAULT_TIMEOUT, type Matcher, type TestServer } from './helpers.js';

export class IrcRaw {
  readonly c: LineClient;
  /** With tlsOptions, over node:tls (IRC on a TLS port). */
  constructor(port: number, name = `irc@${port}`, tlsOptions?: tls.ConnectionOptions) {
    this.c = new LineClient(port, name, '127.0.0.1', tlsOptions);
  }
  connected(): Promise<void> { return this.c.connected(); }
  send(line: string): void { this.c.sendRaw(`${line}\r\n`).catch(() => { /* seen as a close */ }); }
  /** Every line must end in CRLF: the line client splits on LF, so each line ends with CR. */
  private strip(line: string): string {
    if (!line.endsWith('\r')) throw new Error(`IRC line without CRLF: ${JSON.stringify(line)}`);
    return line.slice(0, -1);
  }
  private wrap(m: Matcher): Matcher {
    return (line: string) => {
      const l = this.strip(line);
      if (typeof m === 'string') return l === m;
      if (m instanceof RegExp) return m.test(l);
      return m(l);
    };
  }
  async expect(m: Matcher, ms = DEFAULT_TIMEOUT): Promise<string> { return this.strip(await this.c.expect(this.wrap(m), ms)); }
  async expectNext(m: Matcher, ms = DEFAULT_TIMEOUT): Promise<string> { return this.strip(await this.c.expectNext(this.wrap(m), ms)); }
  /** A numeric reply: `:epchat NNN nick …`. */
  num(code: number | string, rest = ''): Promise<string> {
    const re = new RegExp(`^:epchat ${String(code).padStart(3, '0')} \\S+${rest ? ' ' + rest : '( |$)'}`);
    return this.expect(re);
  }
  closed(): Promise<void> { return this.c.closed(); }
  destroy(): void { this.c.destroy(); }
}

export function ircPort(t: TestServer): number {
  const a = t.server.ircAddress();
  if (!a) throw new Error('the IRC listener is off');
  return a.port;
}

/** Connects and registers `nick` (optionally negotiating caps first); resolves after 376 (end of MOTD). */
export async function ircRegister(t: TestServer, nick: string, caps: string[] = []): Promise<IrcRaw> {
  const c = new IrcRaw(ircPort(t), nick);
  await c.connected();
  if (caps.length) {
    c.send('CAP LS 302');
    c.send(`CAP REQ :${caps.join(' ')}`);
  }
  c.send(`NICK ${nick}`);
  c.send(`USER ${nick} 0 * :${nick} real`);
  if (caps.length) {
    await c.expect(/^:epchat CAP \* ACK /);
    c.send('CAP END');
  }
  await c.num(1);
  await c.num(376);
  return c;
}
