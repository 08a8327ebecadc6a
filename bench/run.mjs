#!/usr/bin/env node
// `npm run bench -- NAME [ARGS]`: runs the compiled benchmark dist/bench/NAME.js, which prints one JSON
// object as its last line of output.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [name, ...args] = process.argv.slice(2);
const dir = join(root, 'dist', 'bench');
const available = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.js') && !f.startsWith('_'))
      .map((f) => f.slice(0, -3))
  : [];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME [ARGS]\navailable: ${available.join(', ') || '(none built)'}`);
  process.exit(2);
}
const child = spawn(process.execPath, ['--expose-gc', join(dir, `${name}.js`), ...args], {
  stdio: 'inherit',
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
