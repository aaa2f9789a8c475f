#!/usr/bin/env node
// Runs ONNX models in ONNX Runtime (the npm package onnxruntime-node, a
// consumer hwnas did not write; installed into tools/ort/ by
// tools/install-deps.sh):
//
//   node tools/ort_run.js MODEL.onnx INPUT.f32 N,C,H,W OUTPUT.f32 [MODEL INPUT SHAPE OUTPUT ...]
//
// INPUT holds N images as raw little-endian float32, NCHW; OUTPUT receives
// the model's first output, raw float32.
// Exits 1 on any failure with one line on stderr, 2 when ONNX Runtime is missing.
'use strict';
const fs = require('fs');
const path = require('path');

let ort;
try {
  ort = require(path.join(__dirname, 'ort', 'node_modules', 'onnxruntime-node'));
} catch (e) {
  console.error('ort_run: onnxruntime-node is not installed in tools/ort (run tools/install-deps.sh): ' + e.message);
  process.exit(2);
}

function readFloats(file) {
  const buf = fs.readFileSync(file);
  if (buf.length % 4) throw new Error(`${file}: ${buf.length} bytes is not a whole number of float32`);
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(4 * i);
  return out;
}

function writeFloats(file, data) {
  const buf = Buffer.alloc(4 * data.length);
  for (let i = 0; i < data.length; i++) buf.writeFloatLE(data[i], 4 * i);
  fs.writeFileSync(file, buf);
}

// "N,C,H,W" -> [N, C, H, W], checked against the number of floats.
function parseShape(text, count) {
  const dims = text.split(',').map(Number);
  if (!dims.length || dims.some((d) => !Number.isInteger(d) || d < 1)) throw new Error(`shape '${text}' is not N,C,H,W`);
  const need = dims.reduce((a, b) => a * b, 1);
  if (need !== count) throw new Error(`input holds ${count} floats, shape ${text} takes ${need}`);
  return dims;
}

async function runOne(model, input, shape, output) {
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1, graphOptimizationLevel: 'all'});
  const data = readFloats(input);
  const dims = parseShape(shape, data.length);
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, dims)};
  const results = await session.run(feeds);
  writeFloats(output, results[session.outputNames[0]].data);
}

async function main(args) {
  if (args.length === 0 || args.length % 4) {
    console.error('usage: node tools/ort_run.js MODEL.onnx INPUT.f32 N,C,H,W OUTPUT.f32 [...]');
    process.exit(2);
  }
  for (let i = 0; i < args.length; i += 4) {
    await runOne(args[i], args[i + 1], args[i + 2], args[i + 3]);
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error('ort_run: ' + String(e.message || e).split('\n')[0]);
  process.exit(1);
});
