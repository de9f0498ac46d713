// Copies the web client's static files (web/static/: index.html, style.css, icon) into dist/web/,
// beside the modules that `tsc -p web` compiles there. Run by `npm run build:web`.
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'dist/web'), { recursive: true });
cpSync(join(root, 'web/static'), join(root, 'dist/web'), { recursive: true });
