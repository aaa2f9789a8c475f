#!/usr/bin/env node
// Times ONNX models in ONNX Runtime (onnxruntime-node in tools/ort/, CPU
// execution provider), for `hwnas latency profile|check --runtime onnxruntime`
// and bench/engine_vs_ort.sh:
//
//   node tools/ort_time.js IN.csv OUT.csv [--threads N] [--warmup W] [--runs R] [--chunk C]
//   node tools/ort_time.js --version
//
// IN.csv: a header, then rows with at least the columns `file` (an .onnx
// model, relative to IN.csv's folder unless absolute) and `input` (its input
// shape NxCxHxW). OUT.csv: IN.csv's columns plus ms (the 20th percentile of
// the timed runs), std (their standard deviation, ms) and n (timed runs, R
// rounded up to groups of 5). Each model is loaded once (rows naming the same
// file share its timing), fed a fixed pseudo-random input and run W times
// untimed; then the models, C at a time (16), are timed interleaved in rounds (an
// untimed run and 5 runs timed alone with process.hrtime around session.run
// per model per round), as hwnas times its own engine: a burst of other work
// or a change of the machine's speed then touches every model alike. Threads: intraOpNumThreads = N,
// interOpNumThreads = 1, sequential execution, all graph optimizations.
// Exits 1 on any failure with one line on stderr, 2 on bad usage or when ONNX
// Runtime is missing.
'use strict';
const fs = require('fs');
const path = require('path');

const pkgDir = path.join(__dirname, 'ort', 'node_modules', 'onnxruntime-node');

function fail(code, msg) {
  console.error('ort_time: ' + msg);
  process.exit(code);
}

function parseArgs(argv) {
  const opt = {threads: 1, warmup: 10, runs: 50, chunk: 16, files: []};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--threads' || a === '--warmup' || a === '--runs' || a === '--chunk') {
      const v = Number(argv[++i]);
      const min = a === '--warmup' ? 0 : 1;
      if (!Number.isInteger(v) || v < min || v > 1000000) fail(2, `${a}: expected an integer >= ${min}`);
      opt[a.slice(2)] = v;
    } else if (a.startsWith('--')) {
      fail(2, `unknown option ${a}`);
    } else {
      opt.files.push(a);
    }
  }
  if (opt.files.length !== 2) fail(2, 'usage: node tools/ort_time.js IN.csv OUT.csv [--threads N] [--warmup W] [--runs R] [--chunk C]');
  return opt;
}

function readCsv(file) {
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.length);
  if (!lines.length) throw new Error(`${file}: empty, expected a header with file and input columns`);
  const header = lines[0].split(',');
  const fileCol = header.indexOf('file'), inputCol = header.indexOf('input');
  if (fileCol < 0 || inputCol < 0) throw new Error(`${file}:1: expected columns file and input`);
  const rows = lines.slice(1).map((l, i) => {
    const f = l.split(',');
    if (f.length !== header.length) throw new Error(`${file}:${i + 2}: ${f.length} fields, expected ${header.length}`);
    return f;
  });
  return {header, rows, fileCol, inputCol};
}

function parseShape(text, where) {
  const dims = text.split('x').map(Number);
  if (dims.length < 1 || dims.some((d) => !Number.isInteger(d) || d < 1)) throw new Error(`${where}: input '${text}', expected NxCxHxW`);
  return dims;
}

// Deterministic inputs in [-1, 1) (a small LCG): no denormals, same every run.
function input(dims) {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    data[i] = s / 1073741824 - 1;
  }
  return data;
}

// Models timed together (--chunk, default 16): loaded at once, then timed
// round by round.
// Each round gives every model of the chunk one untimed run (the previous
// model left the caches to itself) and GROUP timed ones.
const GROUP = 5;

async function openModel(ort, model, dims, opt) {
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: opt.threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all', executionProviders: ['cpu']});
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', input(dims), dims)};
  for (let i = 0; i < opt.warmup; i++) await session.run(feeds);
  return {session, feeds, t: []};
}

// The 20th percentile of the runs (runs that another process interrupted
// sit above it) and their standard deviation.
function summarize(t) {
  const mean = t.reduce((a, b) => a + b, 0) / t.length;
  const std = t.length > 1 ? Math.sqrt(t.reduce((a, b) => a + (b - mean) * (b - mean), 0) / (t.length - 1)) : 0;
  const sorted = t.slice().sort((a, b) => a - b);
  return {ms: sorted[Math.floor(0.2 * (sorted.length - 1))], std};
}

// Times models [{model, dims}] interleaved as hwnas's own measurement does
// (search/measure.h): rounds in which every model of a chunk, starting one
// further each round, gets an untimed run and GROUP timed ones, until each
// has opt.runs (rounded up to whole groups).
async function timeChunk(ort, models, opt) {
  const open = [];
  for (const m of models) {
    try {
      open.push(await openModel(ort, m.model, m.dims, opt));
    } catch (e) {
      throw new Error(`${m.model}: ${String(e.message || e).split('\n')[0]}`);
    }
  }
  const rounds = Math.ceil(opt.runs / GROUP);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < open.length; k++) {
      const o = open[(k + r) % open.length];
      await o.session.run(o.feeds);
      for (let i = 0; i < GROUP; i++) {
        const t0 = process.hrtime.bigint();
        await o.session.run(o.feeds);
        o.t.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
  }
  const out = [];
  for (const o of open) {
    if (o.session.release) await o.session.release();
    out.push(summarize(o.t));
  }
  return out;
}

async function main(argv) {
  if (argv.length === 1 && argv[0] === '--version') {
    console.log('onnxruntime-node ' + JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version);
    return;
  }
  const opt = parseArgs(argv);
  let ort;
  try {
    ort = require(pkgDir);
  } catch (e) {
    fail(2, 'onnxruntime-node is not installed in tools/ort (run tools/install-deps.sh): ' + e.message.split('\n')[0]);
  }
  const [inFile, outFile] = opt.files;
  const csv = readCsv(inFile);
  // Each distinct model once (rows naming the same file share its timing).
  const cache = new Map(), models = [];
  csv.rows.forEach((r, i) => {
    const model = path.resolve(path.dirname(inFile), r[csv.fileCol]);
    if (!cache.has(model)) {
      cache.set(model, null);
      models.push({model, dims: parseShape(r[csv.inputCol], `${inFile}:${i + 2}`)});
    }
  });
  for (let i = 0; i < models.length; i += opt.chunk) {
    const chunk = models.slice(i, i + opt.chunk);
    const times = await timeChunk(ort, chunk, opt);
    chunk.forEach((m, k) => cache.set(m.model, times[k]));
  }
  const runs = Math.ceil(opt.runs / GROUP) * GROUP;
  const out = [csv.header.concat(['ms', 'std', 'n']).join(',')];
  for (const r of csv.rows) {
    const t = cache.get(path.resolve(path.dirname(inFile), r[csv.fileCol]));
    out.push(r.concat([t.ms.toPrecision(6), t.std.toPrecision(4), String(runs)]).join(','));
  }
  const tmp = outFile + '.tmp' + process.pid;
  fs.writeFileSync(tmp, out.join('\n') + '\n');
  fs.renameSync(tmp, outFile);
}

main(process.argv.slice(2)).catch((e) => fail(1, String(e.message || e).split('\n')[0]));
