// Client addresses as the engine reports them (`1.2.3.4:5678`, `[2001:db8::1]:5678`), reduced to what
// per-address limits count by.

/** What `/register` is throttled by: the IPv4 address, or the /64 of an IPv6 one (one host usually
 *  has a whole /64); an IPv4-mapped IPv6 address counts as its IPv4 address. */
export function addressKey(address: string): string {
  const host = hostOf(address).replace(/%.*$/, '');
  if (!host.includes(':')) return host;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return mapped[1]!;
  const [head = '', tail] = host.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}

/** The host part of an engine address (`1.2.3.4:5678` → `1.2.3.4`, `[::1]:5678` → `::1`). */
export function hostOf(address: string): string {
  const v6 = /^\[(.*)\]:\d+$/.exec(address);
  if (v6) return v6[1]!;
  const i = address.lastIndexOf(':');
  return i > 0 && address.indexOf(':') === i ? address.slice(0, i) : address;
}
