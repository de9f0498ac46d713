// `epchat cert [DIR] [--force]`: a development certificate and key for the TLS listeners, made by the
// same script as `npm run cert` (scripts/dev-cert.sh: the openssl command, ECDSA P-256, self-signed
// for localhost/127.0.0.1/::1, the key created mode 0600). DIR defaults to `tls` under the data
// directory (`dataDir`, from the environment or the default).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CERT_USAGE = 'epchat cert [DIR] [--force]   write a development TLS certificate and key (DIR: <dataDir>/tls)';

export interface CertResult {
  ok: boolean;
  cert: string;
  key: string;
  /** What the script printed (stdout, then stderr). */
  output: string;
}

function scriptPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/lib → the package root; lib/ through a TS loader → one up.
  for (const root of [join(here, '..', '..'), join(here, '..')]) {
    const p = join(root, 'scripts', 'dev-cert.sh');
    if (existsSync(p)) return p;
  }
  return join(here, '..', '..', 'scripts', 'dev-cert.sh');
}

/** Writes DIR/cert.pem and DIR/key.pem (refusing to replace a pair unless force). */
export function makeDevCert(dir: string, force = false): CertResult {
  const abs = resolve(dir);
  const r = spawnSync('bash', [scriptPath(), abs, ...(force ? ['--force'] : [])], { encoding: 'utf8' });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `${r.error.message}\n` : ''}`;
  return { ok: r.status === 0, cert: join(abs, 'cert.pem'), key: join(abs, 'key.pem'), output };
}

/** How to use a pair: the flags, and clients that trust it. */
export function certHowTo(cert: string, key: string): string {
  return [
    'Use it:',
    `  epchat --tls-cert ${cert} --tls-key ${key} --tls-port 7001   (IRC over TLS on 6697 by default)`,
    `  or in the config file: { "tlsCert": "${cert}", "tlsKey": "${key}" }`,
    'Connect (the certificate is self-signed: tell the client to trust it):',
    `  openssl s_client -quiet -CAfile ${cert} -connect localhost:7001`,
    `  node: tls.connect({ port: 7001, host: 'localhost', ca: fs.readFileSync('${cert}') })`,
    'SIGHUP (or server.reloadTls()) loads a renewed pair without dropping anyone.',
    '',
  ].join('\n');
}
