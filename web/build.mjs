// build.mjs — builds the static page into dist/:
//   - the page's own files from src/;
//   - ONNX Runtime Web's WebGPU build (which also runs on WebAssembly) vendored from node_modules
//     into dist/vendor/ (no CDN, works offline);
//   - samples.json: a few real CIFAR-100 test images with their true labels, read from the data
//     set at $CNNLAB_DATA_DIR/cifar-100-binary (test.bin; default directory as Go's
//     datasets.DefaultDir: $XDG_CACHE_HOME/cnnlab or ~/.cache/cnnlab), so a visitor can try the
//     page at once.
//     The class tables of src/cifar100.js are checked against the data set's files on the way.
// Usage: CNNLAB_DATA_DIR=... npm run build   (CNNLAB_WEB_NO_SAMPLES=1 builds without the samples)
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CIFAR100_NAMES, CIFAR100_COARSE_NAMES, CIFAR100_FINE_TO_COARSE } from './src/cifar100.js';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const ortDist = join(root, 'node_modules', 'onnxruntime-web', 'dist');

/** Prints msg and exits non-zero. */
function fail(msg) {
  console.error(`build: ${msg}`);
  process.exit(1);
}

// The test images of these classes become the samples: the lecture's three (apple, otter,
// pickup_truck), then seven more classes, so a 3-class model meets classes it does not know.
const SAMPLE_CLASSES = [0, 55, 58, 3, 8, 23, 48, 71, 90, 99];
const RECORD = 2 + 3072; // coarse label, fine label, 32×32 CHW pixels.

/** Reads a names file (one name a line). */
function names(path) {
  return readFileSync(path, 'utf8').split('\n').map((s) => s.trim()).filter((s) => s !== '');
}

/** Checks src/cifar100.js against the data set and returns the sample images of test.bin. */
function samples(dataDir) {
  const dir = join(dataDir, 'cifar-100-binary');
  const test = join(dir, 'test.bin');
  if (!existsSync(test)) {
    fail(`${test} is missing: set CNNLAB_DATA_DIR to the directory holding cifar-100-binary/ (cnnlab train downloads it there), or CNNLAB_WEB_NO_SAMPLES=1 to build without sample images`);
  }
  const fine = names(join(dir, 'fine_label_names.txt'));
  const coarse = names(join(dir, 'coarse_label_names.txt'));
  if (JSON.stringify(fine) !== JSON.stringify(CIFAR100_NAMES) || JSON.stringify(coarse) !== JSON.stringify(CIFAR100_COARSE_NAMES)) {
    fail(`src/cifar100.js: class names differ from ${dir}'s names files`);
  }
  const bin = readFileSync(test);
  if (bin.length % RECORD !== 0) fail(`${test}: ${bin.length} bytes is not a whole number of ${RECORD}-byte records`);
  const first = new Map();
  for (let i = 0; i < bin.length / RECORD; i++) {
    const c = bin[i * RECORD], f = bin[i * RECORD + 1];
    if (CIFAR100_FINE_TO_COARSE[f] !== c) fail(`src/cifar100.js: fine class ${f} is in superclass ${c} in ${test}, not ${CIFAR100_FINE_TO_COARSE[f]}`);
    if (!first.has(f)) first.set(f, i);
  }
  return SAMPLE_CLASSES.map((f) => {
    const index = first.get(f);
    const rec = bin.subarray(index * RECORD, (index + 1) * RECORD);
    return { index, fine: f, name: CIFAR100_NAMES[f], coarse: rec[0], coarse_name: CIFAR100_COARSE_NAMES[rec[0]],
      pixels: Buffer.from(rec.subarray(2)).toString('base64') };
  });
}

if (!existsSync(ortDist)) fail(`${ortDist} is missing: run "npm ci --ignore-scripts" in web/ first`);
let sampleList = [];
if (process.env.CNNLAB_WEB_NO_SAMPLES !== '1') {
  const dataDir = process.env.CNNLAB_DATA_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'cnnlab');
  sampleList = samples(dataDir);
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'vendor'), { recursive: true });
for (const f of readdirSync(join(root, 'src'))) {
  cpSync(join(root, 'src', f), join(dist, f));
}
writeFileSync(join(dist, 'samples.json'), JSON.stringify({ source: 'CIFAR-100 test.bin', samples: sampleList }) + '\n');
// The WebGPU build of ONNX Runtime Web (its WebAssembly runtime serves both the webgpu and the
// wasm execution providers) and the runtime files it loads from wasmPaths.
const vendored = ['ort.webgpu.min.mjs', 'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];
for (const f of vendored) {
  cpSync(join(ortDist, f), join(dist, 'vendor', f));
}
cpSync(join(root, 'node_modules', 'onnxruntime-web', 'package.json'), join(dist, 'vendor', 'onnxruntime-web.package.json'));
console.log(`build: wrote ${dist} (page, ${sampleList.length} CIFAR-100 test images, ${vendored.length} files of onnxruntime-web in vendor/)`);
