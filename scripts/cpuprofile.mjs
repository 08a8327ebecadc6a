#!/usr/bin/env node
// Reads a V8 .cpuprofile (node --cpu-prof; for a bench's children: GSE_BENCH_CHILD_NODE_ARGS="--cpu-prof
// --cpu-prof-dir=DIR") and prints where the time went, without a browser:
//
//   node scripts/cpuprofile.mjs FILE [--top N] [--incl] [--win A-B] [--timeline] [--callers NAME [--depth D]]
//
//   (default)        self time per function, the top N (40)
//   --incl           inclusive time (a function and everything it called)
//   --win A-B        only samples between A and B seconds after the profile started (a bench's measured phase)
//   --timeline       busy (not idle) milliseconds per second of the profile, to find that phase
//   --callers NAME   where the time under functions named NAME came from: the D (6) frames above it
import { readFileSync } from 'node:fs';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error(
    'usage: node scripts/cpuprofile.mjs FILE [--top N] [--incl] [--win A-B] [--timeline] [--callers NAME]',
  );
  process.exit(2);
}
const flag = (name) => rest.includes(name);
const value = (name, fallback) => (flag(name) ? rest[rest.indexOf(name) + 1] : fallback);
const top = Number(value('--top', 40));
const window = flag('--win') ? value('--win').split('-').map(Number) : undefined;
const callersOf = value('--callers');
const depth = Number(value('--depth', 6));

const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const idle = profile.nodes.find((n) => n.callFrame.functionName === '(idle)')?.id;
const frame = (id) => {
  const { functionName, url, lineNumber } = nodes.get(id).callFrame;
  return `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
};

// Self time per node id within the window, and busy time per second for the timeline.
const self = new Map();
const busyPerSecond = [];
let at = 0;
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  at += dt;
  const second = Math.floor(at / 1e6);
  if (id !== idle) busyPerSecond[second] = (busyPerSecond[second] ?? 0) + dt;
  if (window && (at / 1e6 < window[0] || at / 1e6 > window[1])) return;
  self.set(id, (self.get(id) ?? 0) + dt);
  total += dt;
});

if (flag('--timeline')) {
  console.log(
    `busy ms per second: ${[...busyPerSecond].map((b, s) => `${s}:${Math.round((b ?? 0) / 1e3)}`).join(' ')}`,
  );
}

const sums = new Map();
const add = (key, dt) => sums.set(key, (sums.get(key) ?? 0) + dt);
for (const [id, dt] of self) {
  if (callersOf) {
    let cur = id;
    while (cur !== undefined && nodes.get(cur).callFrame.functionName !== callersOf) cur = parent.get(cur);
    if (cur === undefined) continue;
    const chain = [];
    for (let p = parent.get(cur); p !== undefined && chain.length < depth; p = parent.get(p))
      chain.push(frame(p));
    add(chain.join(' < '), dt);
  } else if (flag('--incl')) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const key = frame(cur);
      if (!seen.has(key)) add(key, dt);
      seen.add(key);
    }
  } else {
    add(frame(id), dt);
  }
}

console.log(`total ${(total / 1e6).toFixed(2)} s${window ? ` (${window[0]}-${window[1]} s)` : ''}`);
for (const [key, dt] of [...sums].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  const pct = ((100 * dt) / Math.max(1, total)).toFixed(1).padStart(5);
  console.log(`${pct}% ${String(Math.round(dt / 1e3)).padStart(7)} ms  ${key}`);
}
