// app.js — the page's logic: load an ONNX model (picked or the exported model.onnx), read its
// class labels, classify images in ONNX Runtime Web (WebAssembly, served from ./vendor/), show the
// predicted label and the top-5 probabilities. State for tests is in window.cnnlab.
import * as ort from './vendor/ort.wasm.min.mjs';
import { resizeToCHW } from './resize.js';
import { readMetadata } from './onnxmeta.js';
import { CIFAR100_NAMES } from './cifar100.js';

ort.env.wasm.wasmPaths = new URL('./vendor/', window.location.href).href;
ort.env.wasm.numThreads = 1; // No cross-origin isolation on a plain static server.

const $ = (id) => document.getElementById(id);
const state = { ready: false, runs: 0, errors: 0, modelLoads: 0, last: null, lastError: '', model: null };
window.cnnlab = state;

/** Shows msg as the page's error (and counts it); an empty msg hides it. */
function showError(msg) {
  const el = $('error');
  el.textContent = msg;
  el.hidden = !msg;
  if (msg) {
    state.errors++;
    state.lastError = msg;
  }
}

/** Loads an ONNX model from bytes (Uint8Array) named name. */
async function loadModel(bytes, name) {
  let meta;
  try {
    meta = readMetadata(bytes);
  } catch (e) {
    throw new Error(`${name}: ${e.message}. Pick a .onnx file exported by "cnnlab export".`);
  }
  let session;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  } catch (e) {
    throw new Error(`${name}: ONNX Runtime cannot load it: ${e.message || e}`);
  }
  if (state.model) {
    await state.model.session.release().catch(() => {});
  }
  const m = meta.metadata;
  state.model = {
    session, name,
    height: Number(m['cnnlab.input_height'] || 32),
    width: Number(m['cnnlab.input_width'] || 32),
    metadata: m,
  };
  if (m['cnnlab.class_ids']) {
    $('classes').value = m['cnnlab.class_ids'];
  }
  const arch = m['cnnlab.model'] ? `${m['cnnlab.model']}, ` : '';
  $('model-status').textContent = `Loaded ${name} (${arch}${(bytes.length / 1024).toFixed(1)} KiB, input ${session.inputNames[0]}, output ${session.outputNames[0]}).`;
  state.modelLoads++;
}

/** Parses the class label list: CIFAR-100 ids 0..99, comma-separated. */
function parseClasses(text) {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) {
    throw new Error('Class labels: enter the CIFAR-100 class ids of the model outputs, e.g. 0,50,54.');
  }
  return parts.map((s) => {
    if (!/^\d+$/.test(s) || Number(s) > 99) {
      throw new Error(`Class labels: "${s}" is not a CIFAR-100 class id (0 to 99).`);
    }
    return Number(s);
  });
}

/** Decodes an image file into RGBA bytes at its natural size. */
async function decodeImage(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch (e) {
    throw new Error(`${file.name}: cannot be decoded as an image (JPEG or PNG expected).`);
  }
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}

/** Draws the CHW input on the preview canvas. */
function drawPreview(chw, size) {
  const canvas = $('preview');
  canvas.width = size;
  canvas.height = size;
  const img = new ImageData(size, size);
  const plane = size * size;
  for (let p = 0; p < plane; p++) {
    img.data[4 * p] = chw[p];
    img.data[4 * p + 1] = chw[plane + p];
    img.data[4 * p + 2] = chw[2 * plane + p];
    img.data[4 * p + 3] = 255;
  }
  canvas.getContext('2d').putImageData(img, 0, 0);
}

/** Classifies an image file with the loaded model and shows the result. */
async function classify(file) {
  if (!state.model) {
    throw new Error('Load a model first (step 1).');
  }
  const classes = parseClasses($('classes').value);
  const t0 = performance.now();
  const pixels = await decodeImage(file);
  const { height, width, session } = state.model;
  if (height !== width) {
    throw new Error(`the model takes ${width}×${height} images; only square inputs are supported`);
  }
  const chw = resizeToCHW(pixels.data, pixels.width, pixels.height, width);
  const input = new Float32Array(chw.length);
  for (let i = 0; i < chw.length; i++) input[i] = chw[i] / 255;
  const t1 = performance.now();
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, [1, 3, height, width]) };
  const results = await session.run(feeds);
  const t2 = performance.now();
  const logits = Array.from(results[session.outputNames[0]].data);
  if (logits.length !== classes.length) {
    throw new Error(`Class labels: the model has ${logits.length} outputs but ${classes.length} class ids were given.`);
  }
  const maxLogit = Math.max(...logits);
  const exps = logits.map((v) => Math.exp(v - maxLogit));
  const sum = exps.reduce((a, b) => a + b, 0);
  const ranked = exps.map((e, i) => ({ index: i, id: classes[i], name: CIFAR100_NAMES[classes[i]], probability: e / sum }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index);
  const best = ranked[0];
  $('label').textContent = `Class label ${best.id} — ${best.name}`;
  const body = $('top5').querySelector('tbody');
  body.replaceChildren(...ranked.slice(0, 5).map((r, k) => {
    const tr = document.createElement('tr');
    for (const [text, cls] of [[k + 1], [r.id], [r.name], [(100 * r.probability).toFixed(2) + ' %', 'p']]) {
      const td = document.createElement('td');
      td.textContent = String(text);
      if (cls) td.className = cls;
      tr.append(td);
    }
    return tr;
  }));
  $('latency').textContent = `${file.name}: inference ${(t2 - t1).toFixed(1)} ms (decode and resize ${(t1 - t0).toFixed(1)} ms), ONNX Runtime Web ${ort.env.versions?.web ?? ''} (wasm).`;
  drawPreview(chw, width);
  $('result').hidden = false;
  state.last = { file: file.name, index: best.index, id: best.id, name: best.name, top5: ranked.slice(0, 5), logits, pixels: Array.from(chw), inferenceMs: t2 - t1, totalMs: t2 - t0 };
  state.runs++;
}

/** Runs an async handler, showing its error on the page. */
function guarded(fn) {
  return async (...args) => {
    try {
      await fn(...args);
      showError('');
    } catch (e) {
      showError(e.message || String(e));
    }
  };
}

$('model').addEventListener('change', guarded(async (ev) => {
  const file = ev.target.files[0];
  ev.target.value = ''; // Picking the same file again fires a new change event.
  if (file) await loadModel(new Uint8Array(await file.arrayBuffer()), file.name);
}));
$('use-exported').addEventListener('click', guarded(async () => {
  const res = await fetch('model.onnx');
  if (!res.ok) {
    throw new Error(`model.onnx is not served here (HTTP ${res.status}): run "cnnlab serve --model model.onnx" or pick a file.`);
  }
  await loadModel(new Uint8Array(await res.arrayBuffer()), 'model.onnx');
}));
$('image').addEventListener('change', guarded(async (ev) => {
  const file = ev.target.files[0];
  ev.target.value = ''; // Picking the same file again classifies it again.
  if (file) await classify(file);
}));
state.ready = true;
