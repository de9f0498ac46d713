// The documents users read stay true: the README's configuration table is the one the settings
// table renders, and every error code the engine can send is in the protocol's error table.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { renderMarkdownTable } from '../lib/config.js';

const test = suite('docs');
const root = fileURLToPath(new URL('../..', import.meta.url));

test('README configuration table matches the settings table', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const m = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
  assert.ok(m, 'README has the config-table markers');
  assert.fixture(m![1]!, renderMarkdownTable().trimEnd());
});

test('every error code the façade sends (accounts, mailboxes, groups, commands) is documented', () => {
  const protocol = readFileSync(join(root, 'docs', 'protocol.md'), 'utf8');
  const dir = join(root, 'lib');
  const codes = new Set<string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    const src = readFileSync(join(dir, f), 'utf8');
    for (const m of src.matchAll(/(?:fail|error)\('([A-Z_]+)'/g)) codes.add(m[1]!); // structured error lines (lib/plugin.ts)
    for (const m of src.matchAll(/`!! ([A-Z_]{3,}) /g)) if (m[1] !== 'CODE') codes.add(m[1]!); // not the doc comment's `!! CODE text`
  }
  assert.ok(codes.size >= 15, `found the façade's error replies (${codes.size})`);
  for (const code of codes) assert.ok(protocol.includes(`| \`${code}\` |`), `${code} is in the error table`);
});

test('every error code the engine sends is documented in docs/protocol.md', () => {
  const protocol = readFileSync(join(root, 'docs', 'protocol.md'), 'utf8');
  const dir = join(root, 'native', 'core');
  const codes = new Set<string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.cc'))) {
    const src = readFileSync(join(dir, f), 'utf8');
    for (const m of src.matchAll(/error\(\w+, "([A-Z_]+)"/g)) codes.add(m[1]!);
  }
  assert.ok(codes.size >= 15, `found the engine's error calls (${codes.size})`);
  for (const code of codes) assert.ok(protocol.includes(`| \`${code}\` |`), `${code} is in the error table`);
});

test.run();
