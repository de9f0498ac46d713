#!/usr/bin/env node
// Writes the configuration table (rendered from lib/config.ts's settings table) into README.md
// between the config-table markers. `--check` exits 1 if the README is out of date instead.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderMarkdownTable } from '../dist/lib/config.js';

const readme = fileURLToPath(new URL('../README.md', import.meta.url));
const text = readFileSync(readme, 'utf8');
const start = '<!-- config-table:start -->';
const end = '<!-- config-table:end -->';
const a = text.indexOf(start);
const b = text.indexOf(end);
if (a < 0 || b < a) {
  console.error('README.md: config-table markers not found');
  process.exit(2);
}
const next = `${text.slice(0, a + start.length)}\n${renderMarkdownTable().trimEnd()}\n${text.slice(b)}`;
if (process.argv.includes('--check')) {
  if (next !== text) {
    console.error('README.md configuration table is out of date: run npm run docs:config');
    process.exit(1);
  }
} else if (next !== text) {
  writeFileSync(readme, next);
}
