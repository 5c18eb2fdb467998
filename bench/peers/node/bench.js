// bench.js -- the Node peer of `macho bench`: lru-cache (npm, the version in
// package-lock.json, installed by scripts/bench-deps.sh with `npm ci`).
//
// Speaks the line protocol of tools/macho/bench_peers.c: load the key file,
// fill order and operation streams the driver wrote, run one untimed round
// (V8's JIT warm-up; the driver's round 0 is a second one), print a ready
// line, then answer each "run THREADS PIN" with one JSON line. JavaScript has
// one event loop, so only THREADS = 1 runs (the driver skips the others).
// Every round builds a fresh cache, fills it, runs the untimed warm-up slice,
// times the timed slice, then drops the cache and runs gc() (node --expose-gc)
// before answering, so that no collection runs during another system's round.
//
// Keys are strings (latin1, one char per byte) made once from the key file;
// lookups use a second, equal string per key. A put stores a fresh copy of
// the value (a Buffer). A get that misses is followed by a put.
'use strict';
const fs = require('fs');
const readline = require('readline');
const { LRUCache } = require('lru-cache');

const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--memory') args.memory = true;
  else if (a.startsWith('--')) args[a.slice(2)] = process.argv[++i];
}
const nkeys = +args.nkeys, klen = +args.klen, vlen = +args.vlen, ttlS = +(args.ttl || 0);
const PUT = 0x80000000;

const kb = fs.readFileSync(args.keys);
const insert = new Array(nkeys), lookup = new Array(nkeys);
for (let i = 0; i < nkeys; i++) {
  insert[i] = kb.toString('latin1', i * klen, (i + 1) * klen);
  // a second string with the same characters: flatten a concatenation so V8 does not share the first
  lookup[i] = (' ' + kb.toString('latin1', i * klen, (i + 1) * klen)).slice(1);
}
const value = Buffer.alloc(vlen);
for (let i = 0; i < vlen; i++) value[i] = 97 + (i % 26);

// lru-cache's "exports" hide its package.json from require(): read the file.
const pkg = JSON.parse(fs.readFileSync(require('path').join(__dirname, 'node_modules/lru-cache/package.json'), 'utf8'));
const version = 'lru-cache ' + pkg.version + ', node ' + process.version;
const notes = 'new LRUCache({max: capacity' + (ttlS > 0 ? ', ttl' : '') + '}); one event loop; gc() after each round';

function open(n) {
  const o = { max: n };
  if (ttlS > 0) o.ttl = Math.round(ttlS * 1000);
  return new LRUCache(o);
}

function u32s(path) {
  const b = fs.readFileSync(path);
  return new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
}

function rss() {
  const f = fs.readFileSync('/proc/self/statm', 'utf8').trim().split(' ');
  return +f[1] * 4096;
}

function gcAll() {
  if (global.gc) { global.gc(); global.gc(); }
}

if (args.memory) {
  gcAll();
  const h0 = process.memoryUsage().heapUsed + process.memoryUsage().external, r0 = rss();
  const c = open(nkeys);
  for (let i = 0; i < nkeys; i++) c.set(insert[i], Buffer.from(value));
  gcAll();
  const h1 = process.memoryUsage().heapUsed + process.memoryUsage().external, r1 = rss();
  console.log(JSON.stringify({ entries: c.size, rss_before: r0, rss_after: r1, own_bytes: h1 - h0,
    own_what: 'V8 heap + external (Buffers) in use after gc()', version,
    notes: notes + '; lookup copies of the keys are in the baseline' }));
  process.exit(0);
}

const fill = u32s(args.fill), ops = u32s(args.ops);
const nfill = +args.nfill, capacity = +args.capacity, nwarm = +args.warm, ntimed = +args.timed;
let sink = 0;

function slice(c, from, to) {
  let gets = 0, hits = 0, s = 0;
  for (let i = from; i < to; i++) {
    const op = ops[i];
    const k = op & 0x7fffffff;
    if (op >= PUT) { c.set(insert[k], Buffer.from(value)); continue; }
    gets++;
    const v = c.get(lookup[k]);
    if (v !== undefined) { hits++; s ^= v[0]; } else c.set(insert[k], Buffer.from(value));
  }
  sink ^= s;
  return [gets, hits];
}

function round() {
  let c = open(capacity);
  for (let i = 0; i < nfill; i++) c.set(insert[fill[i]], Buffer.from(value));
  slice(c, 0, nwarm);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const [gets, hits] = slice(c, nwarm, nwarm + ntimed);
  const t1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  c = null;
  gcAll();
  return JSON.stringify({ wall_ns: Number(t1 - t0), cpu_ns: (cpu.user + cpu.system) * 1000, ops: ntimed, gets, hits });
}

round();
console.log(JSON.stringify({ ready: true, version, notes, ttl: ttlS > 0 }));
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const f = line.trim().split(' ');
  if (f[0] === 'quit') { rl.close(); process.exit(0); }
  if (f[0] !== 'run' || +f[1] !== 1) { console.log(JSON.stringify({ error: 'only "run 1": one event loop' })); return; }
  console.log(round());
});
