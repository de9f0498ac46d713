#!/usr/bin/env node
// The epchat command. The TypeScript sources compile to dist/ (`npx tsc -p .`).
import { main } from '../dist/lib/cli.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`epchat: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
