// Prints the addon's sources from native/sources.txt, space separated, for binding.gyp's
// <!@(node scripts/native-sources.cjs) (CommonJS so that it runs with no build step and no
// dependency at `npm install` time). CMakeLists.txt reads the same file with file(STRINGS).
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const list = readFileSync(join(__dirname, '..', 'native', 'sources.txt'), 'utf8')
  .split(/\r?\n/)
  .map((line) => line.replace(/#.*/, '').trim())
  .filter((line) => line !== '');
if (list.length === 0) {
  console.error('native/sources.txt lists no sources');
  process.exit(1);
}
process.stdout.write(list.join(' ') + '\n');
