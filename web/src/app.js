// app.js — the page's logic: load an ONNX model (the exported model.onnx at once, or a picked
// file), read its classes from its metadata, classify an image (picked, dropped, pasted, taken
// with the camera or one of the built-in CIFAR-100 test images) in ONNX Runtime Web on WebGPU when
// the browser has it, else WebAssembly; show the top 5, the classes the model knows and an
// occlusion map. Decoding and resizing run in decode-worker.js. State for tests: window.cnnlab.
import * as ort from './vendor/ort.webgpu.min.mjs';
import { readMetadata } from './onnxmeta.js';
import { CIFAR100_NAMES, CIFAR100_COARSE_NAMES, CIFAR100_FINE_TO_COARSE } from './cifar100.js';

ort.env.wasm.wasmPaths = new URL('./vendor/', window.location.href).href;
// Threads need cross-origin isolation (COOP/COEP headers, sent by `cnnlab serve`).
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;

/** Occlusion map: a PATCH×PATCH grey square moved by STRIDE pixels over the input. */
const PATCH = 8, STRIDE = 4, GREY = 0.5;

const $ = (id) => document.getElementById(id);
// lastError is the error shown now ('' when none).
const state = {
  ready: false, runs: 0, errors: 0, modelLoads: 0, stale: 0, requests: 0,
  last: null, lastError: '', model: null, backend: '', threads: ort.env.wasm.numThreads,
  crossOriginIsolated: self.crossOriginIsolated, webgpuAvailable: false, warmupMs: null, samples: [],
};
window.cnnlab = state;

/** current is the image being classified or shown: {chw, name, truth?}; seq numbers requests. */
let current = null;
let seq = 0;

// ---------- decoding, off the main thread ----------

const worker = new Worker(new URL('./decode-worker.js', import.meta.url), { type: 'module' });
const pending = new Map();
let workerIds = 0;
worker.onmessage = (ev) => {
  const p = pending.get(ev.data.id);
  pending.delete(ev.data.id);
  if (ev.data.error) p.reject(new Error(ev.data.error));
  else p.resolve(ev.data);
};

/** Decodes and resizes an image Blob to the model input size in the worker: {chw, width, height}. */
function decode(blob, name, size) {
  return new Promise((resolve, reject) => {
    const id = ++workerIds;
    pending.set(id, { resolve, reject: (e) => reject(new Error(e.message === 'undecodable'
      ? `${name}: cannot be decoded as an image (JPEG, PNG, WebP, GIF or BMP expected).` : `${name}: ${e.message}`)) });
    worker.postMessage({ id, blob, size });
  });
}

// ---------- messages ----------

/** Shows msg as the page's error (and counts it): the old result is cleared. Empty msg hides it. */
function showError(msg) {
  const el = $('error');
  el.textContent = msg;
  el.hidden = !msg;
  state.lastError = msg;
  if (msg) {
    state.errors++;
    $('result').hidden = true;
    state.last = null;
  }
}

/** Shows or hides the busy indicator. */
function busy(text) {
  $('busy-text').textContent = text;
  document.querySelector('.spinner').hidden = !text;
  $('result').setAttribute('aria-busy', text ? 'true' : 'false');
}

// ---------- model ----------

/** Creates a session on WebGPU if the browser has an adapter, else on WebAssembly. */
async function createSession(bytes) {
  const errors = [];
  if (state.webgpuAvailable) {
    try {
      return { session: await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'] }), backend: 'webgpu' };
    } catch (e) {
      errors.push(`webgpu: ${e.message || e}`);
    }
  }
  try {
    return { session: await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] }), backend: 'wasm' };
  } catch (e) {
    errors.push(`wasm: ${e.message || e}`);
  }
  throw new Error(errors.join('; '));
}

/** Loads an ONNX model from bytes (Uint8Array) named name, warms it up and shows its classes. */
async function loadModel(bytes, name) {
  let meta;
  try {
    meta = readMetadata(bytes);
  } catch (e) {
    throw new Error(`${name}: ${e.message}. Pick a .onnx file exported by "cnnlab export".`);
  }
  busy(`Loading ${name}…`);
  let created;
  try {
    created = await createSession(bytes);
  } catch (e) {
    throw new Error(`${name}: ONNX Runtime cannot load it: ${e.message}`);
  } finally {
    busy('');
  }
  if (state.model) await state.model.session.release().catch(() => {});
  const m = meta.metadata;
  const { session, backend } = created;
  state.model = { session, name, backend, metadata: m,
    height: Number(m['cnnlab.input_height'] || 32), width: Number(m['cnnlab.input_width'] || 32) };
  state.backend = backend;
  if (state.model.height !== state.model.width) {
    throw new Error(`${name}: the model takes ${state.model.width}×${state.model.height} images; only square inputs are supported`);
  }
  const t0 = performance.now();
  const logits = await run(new Float32Array(3 * state.model.width * state.model.width), 1);
  state.warmupMs = performance.now() - t0;
  state.model.outputs = logits.length;
  $('classes').value = m['cnnlab.class_ids'] || Array.from({ length: logits.length }, (_, i) => i).join(',');
  const arch = m['cnnlab.model'] ? `${m['cnnlab.model']}, ` : '';
  $('model-status').textContent = `Loaded ${name} (${arch}${(bytes.length / 1024).toFixed(1)} KiB, ${logits.length} classes) on ${backendText()}; warm-up ${state.warmupMs.toFixed(1)} ms.`;
  state.modelLoads++;
  await classesChanged();
}

/** Describes the backend that runs the model. */
function backendText() {
  return state.backend === 'webgpu' ? 'WebGPU' : `WebAssembly (${state.threads} thread${state.threads > 1 ? 's' : ''})`;
}

/** Runs the model on n images (CHW floats in [0,1]); returns the logits (n × outputs). */
async function run(input, n) {
  const { session, width } = state.model;
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, [n, 3, width, width]) };
  const out = await session.run(feeds);
  return Float32Array.from(out[session.outputNames[0]].data);
}

// ---------- class ids ----------

/** Parses the class id list: CIFAR-100 ids 0..99, each once, one per model output. */
function parseClasses(text, outputs) {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new Error('Class ids: enter the CIFAR-100 class id of each model output, e.g. 0,55,58.');
  const seen = new Map();
  const ids = parts.map((s, i) => {
    if (!/^\d+$/.test(s) || Number(s) > 99) throw new Error(`Class ids: "${s}" is not a CIFAR-100 class id (0 to 99).`);
    const id = Number(s);
    if (seen.has(id)) throw new Error(`Class ids: ${id} (${CIFAR100_NAMES[id]}) is given twice (outputs ${seen.get(id) + 1} and ${i + 1}).`);
    seen.set(id, i);
    return id;
  });
  if (outputs && ids.length !== outputs) throw new Error(`Class ids: the model has ${outputs} outputs but ${ids.length} class ids were given.`);
  return ids;
}

/** Validates the class ids field, updates "this model knows" and re-classifies the current image. */
async function classesChanged() {
  const field = $('classes');
  const errEl = $('classes-error');
  let ids;
  try {
    ids = parseClasses(field.value, state.model?.outputs);
  } catch (e) {
    errEl.textContent = e.message;
    errEl.hidden = false;
    field.setAttribute('aria-invalid', 'true');
    throw e;
  }
  errEl.hidden = true;
  field.removeAttribute('aria-invalid');
  state.classes = ids;
  const knows = $('knows');
  knows.hidden = false;
  knows.textContent = ids.length === 100
    ? 'This model knows all 100 CIFAR-100 classes (and their 20 superclasses).'
    : `This model knows only ${ids.length} classes: ${ids.map((id) => `${CIFAR100_NAMES[id]} (${id})`).join(', ')}. Any other picture is still forced into one of them.`;
  if (current) await classify(current);
}

// ---------- classification ----------

/** Classifies a decoded image {chw, name, truth?} and shows the result, unless a newer request came. */
async function classify(img, my = ++seq) {
  const ids = state.classes;
  const t1 = performance.now();
  const input = Float32Array.from(img.chw, (v) => v / 255);
  const logits = await run(input, 1);
  const t2 = performance.now();
  if (my !== seq) {
    state.stale++;
    return;
  }
  const probs = softmax(logits);
  const ranked = Array.from(probs, (p, i) => ({ index: i, id: ids[i], name: CIFAR100_NAMES[ids[i]], probability: p }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index);
  const best = ranked[0];
  showResult(img, ranked, t2 - t1);
  state.last = { file: img.name, index: best.index, id: best.id, name: best.name, top5: ranked.slice(0, 5),
    logits: Array.from(logits), probabilities: Array.from(probs), pixels: Array.from(img.chw),
    inferenceMs: t2 - t1, decodeMs: img.decodeMs ?? 0, backend: state.backend, occlusion: null };
  await occlusion(img, best.index, probs[best.index], my);
  if (my === seq) state.runs++;
}

/** Softmax of logits. */
function softmax(logits) {
  const max = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Shows the classification of img. */
function showResult(img, ranked, inferenceMs) {
  const best = ranked[0];
  $('label').textContent = `${best.name} (class ${best.id}), ${(100 * best.probability).toFixed(1)} %`;
  const truth = $('truth');
  truth.hidden = img.truth === undefined;
  if (img.truth !== undefined) {
    const ok = img.truth === best.id;
    truth.textContent = `True label: ${CIFAR100_NAMES[img.truth]} (class ${img.truth}) — ${ok ? 'correct' : 'wrong'}${state.classes.includes(img.truth) ? '' : '; the model does not know this class'}.`;
  }
  const coarse = $('coarse');
  coarse.hidden = state.classes.length !== 100;
  if (state.classes.length === 100) {
    const sums = new Array(20).fill(0);
    for (const r of ranked) sums[CIFAR100_FINE_TO_COARSE[r.id]] += r.probability;
    const c = CIFAR100_FINE_TO_COARSE[best.id];
    const topC = sums.indexOf(Math.max(...sums));
    coarse.textContent = `Superclass: ${CIFAR100_COARSE_NAMES[c]} (coarse ${c}); most probable superclass ${CIFAR100_COARSE_NAMES[topC]}, ${(100 * sums[topC]).toFixed(1)} %.`;
  }
  const scope = $('scope');
  scope.hidden = state.classes.length === 100;
  scope.textContent = `Only ${state.classes.length} classes are possible answers: the percentages compare these, they do not say the picture is one of them.`;
  $('top5').replaceChildren(...ranked.slice(0, 5).map((r) => {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = state.classes.length === 100 ? `${r.name} (${r.id}, ${CIFAR100_COARSE_NAMES[CIFAR100_FINE_TO_COARSE[r.id]]})` : `${r.name} (${r.id})`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.setAttribute('aria-hidden', 'true');
    const fill = document.createElement('span');
    fill.style.width = `${(100 * r.probability).toFixed(1)}%`;
    bar.append(fill);
    const p = document.createElement('span');
    p.className = 'p';
    p.textContent = `${(100 * r.probability).toFixed(2)} %`;
    li.append(name, bar, p);
    return li;
  }));
  $('photo').src = img.url;
  $('photo').alt = `The picture: ${img.name}`;
  $('photo-name').textContent = img.name;
  drawCHW($('preview'), img.chw, state.model.width);
  for (const c of [$('heat'), $('photo-heat')]) c.getContext('2d').clearRect(0, 0, c.width, c.height);
  $('latency').textContent = `${backendText()}, ONNX Runtime Web ${ort.env.versions?.web ?? ''}: decode and resize ${(img.decodeMs ?? 0).toFixed(1)} ms, inference ${inferenceMs.toFixed(1)} ms.`;
  $('result').hidden = false;
  showError('');
}

/** Draws CHW bytes on a canvas of size×size. */
function drawCHW(canvas, chw, size) {
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

/** Occlusion positions along one axis of a size-pixel input. */
function positions(size) {
  const out = [];
  for (let p = 0; p + PATCH <= size; p += STRIDE) out.push(p);
  return out;
}

/**
 * occlusion runs the model on copies of img with a grey patch at every position (one batch), and
 * draws the drop of the top class's probability as a heat map over the input and the photo.
 */
async function occlusion(img, top, p0, my) {
  const size = state.model.width;
  const pos = positions(size);
  const n = pos.length * pos.length;
  const plane = size * size;
  const batch = new Float32Array(n * 3 * plane);
  let k = 0;
  for (const oy of pos) {
    for (const ox of pos) {
      const base = k * 3 * plane;
      for (let i = 0; i < 3 * plane; i++) batch[base + i] = img.chw[i] / 255;
      for (let c = 0; c < 3; c++) {
        for (let y = oy; y < oy + PATCH; y++) batch.fill(GREY, base + c * plane + y * size + ox, base + c * plane + y * size + ox + PATCH);
      }
      k++;
    }
  }
  const t0 = performance.now();
  const logits = await run(batch, n);
  const ms = performance.now() - t0;
  if (my !== seq) return;
  const outputs = logits.length / n;
  const drops = [];
  for (let j = 0; j < n; j++) drops.push(p0 - softmax(logits.subarray(j * outputs, (j + 1) * outputs))[top]);
  // Per pixel: the mean drop of the patches covering it.
  const heat = new Float32Array(plane);
  const cover = new Float32Array(plane);
  k = 0;
  for (const oy of pos) {
    for (const ox of pos) {
      for (let y = oy; y < oy + PATCH; y++) {
        for (let x = ox; x < ox + PATCH; x++) {
          heat[y * size + x] += drops[k];
          cover[y * size + x]++;
        }
      }
      k++;
    }
  }
  let max = 0;
  for (let i = 0; i < plane; i++) {
    heat[i] = cover[i] ? heat[i] / cover[i] : 0;
    max = Math.max(max, heat[i]);
  }
  // The map alone: white (no drop) to red (largest drop); over the photo: red with that opacity.
  const map = new ImageData(size, size);
  const overlay = new ImageData(size, size);
  for (let i = 0; i < plane; i++) {
    const v = max > 0 ? Math.max(0, heat[i]) / max : 0;
    map.data.set([255, Math.round(255 * (1 - v)), Math.round(255 * (1 - v)), 255], 4 * i);
    overlay.data.set([255, 0, 0, Math.round(180 * v)], 4 * i);
  }
  for (const [c, img] of [[$('heat'), map], [$('photo-heat'), overlay]]) {
    c.width = size;
    c.height = size;
    c.getContext('2d').putImageData(img, 0, 0);
  }
  state.last.occlusion = { patch: PATCH, stride: STRIDE, grey: GREY, positions: pos, drops, maxDrop: max, ms, batch: n };
  $('latency').textContent += ` Occlusion map: ${n} images in one batch, ${ms.toFixed(1)} ms.`;
}

/** Decodes an image Blob named name and classifies it (only the latest request is shown). */
async function classifyBlob(blob, name) {
  if (!state.model) throw new Error('Load a model first (step 1).');
  parseClasses($('classes').value, state.model.outputs);
  const my = ++seq;
  state.requests++;
  busy(`Reading ${name}…`);
  try {
    const t0 = performance.now();
    const d = await decode(blob, name, state.model.width);
    if (my !== seq) {
      state.stale++;
      return;
    }
    busy(`Classifying ${name}…`);
    if (current?.url?.startsWith('blob:')) URL.revokeObjectURL(current.url);
    current = { chw: d.chw, name: `${name} (${d.width}×${d.height})`, url: URL.createObjectURL(blob), decodeMs: performance.now() - t0 };
    await classify(current, my);
  } catch (e) {
    if (my !== seq) {
      state.stale++;
      return;
    }
    current = null;
    throw e;
  } finally {
    if (my === seq) busy('');
  }
}

// ---------- built-in samples ----------

/** Shows the CIFAR-100 test images of samples.json as buttons. */
async function loadSamples() {
  const res = await fetch('samples.json');
  if (!res.ok) return;
  const { samples } = await res.json();
  const box = $('samples');
  for (const s of samples) {
    const chw = Uint8Array.from(atob(s.pixels), (c) => c.charCodeAt(0));
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'sample';
    b.setAttribute('aria-label', `Test image ${s.index}: ${s.name}`);
    const c = document.createElement('canvas');
    drawCHW(c, chw, 32);
    const cap = document.createElement('span');
    cap.textContent = s.name;
    b.append(c, cap);
    b.addEventListener('click', guarded(async () => {
      if (!state.model) throw new Error('Load a model first (step 1).');
      if (state.model.width !== 32) throw new Error(`the samples are 32×32; this model takes ${state.model.width}×${state.model.width}`);
      parseClasses($('classes').value, state.model.outputs);
      current = { chw, name: `CIFAR-100 test image ${s.index}`, truth: s.fine, url: c.toDataURL(), decodeMs: 0 };
      state.requests++;
      await classify(current);
    }));
    box.append(b);
  }
  state.samples = samples.map(({ pixels, ...rest }) => rest);
  $('samples-h').hidden = samples.length === 0;
}

// ---------- camera ----------

let stream = null;

/** Opens the camera (getUserMedia); without one, offers the file input with capture instead. */
async function startCamera() {
  try {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser has no camera access');
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch (e) {
    $('camera-file-label').hidden = false;
    $('camera-file').hidden = false;
    throw new Error(`Camera: ${e.message || e}. Use "Take a photo…" (your camera app) or choose a photo instead.`);
  }
  const video = $('camera-video');
  video.srcObject = stream;
  $('camera').hidden = false;
  await video.play();
  state.camera = { width: video.videoWidth, height: video.videoHeight };
  $('camera-shoot').focus();
}

/** Stops the camera. */
function stopCamera() {
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
  $('camera').hidden = true;
}

/** Takes a frame of the camera as a PNG and classifies it. */
async function shoot() {
  const video = $('camera-video');
  const canvas = new OffscreenCanvas(video.videoWidth, video.videoHeight);
  canvas.getContext('2d').drawImage(video, 0, 0);
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  await classifyBlob(blob, 'camera photo');
}

// ---------- wiring ----------

/** Runs an async handler, showing its error on the page. */
function guarded(fn) {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (e) {
      showError(e.message || String(e));
    }
  };
}

/** Loads the exported model served at model.onnx. */
async function useExported() {
  const res = await fetch('model.onnx');
  if (!res.ok) throw new Error(`model.onnx is not served here (HTTP ${res.status}): run "cnnlab serve --model model.onnx" or open a file.`);
  await loadModel(new Uint8Array(await res.arrayBuffer()), 'model.onnx');
}

/** The first image file of a DataTransfer (drop or paste), or null. */
function imageOf(dt) {
  for (const f of dt?.files || []) if (f.type.startsWith('image/') || f.type === '') return f;
  return null;
}

$('model').addEventListener('change', guarded(async (ev) => {
  const file = ev.target.files[0];
  ev.target.value = '';
  if (file) await loadModel(new Uint8Array(await file.arrayBuffer()), file.name);
}));
$('use-exported').addEventListener('click', guarded(useExported));
for (const id of ['image', 'camera-file']) {
  $(id).addEventListener('change', guarded(async (ev) => {
    const file = ev.target.files[0];
    ev.target.value = '';
    if (file) await classifyBlob(file, file.name);
  }));
}
$('classes').addEventListener('input', guarded(async () => {
  await classesChanged();
  showError('');
}));
$('camera-start').addEventListener('click', guarded(startCamera));
$('camera-stop').addEventListener('click', stopCamera);
$('camera-shoot').addEventListener('click', guarded(shoot));
document.addEventListener('dragover', (ev) => ev.preventDefault());
document.addEventListener('drop', guarded(async (ev) => {
  ev.preventDefault();
  const f = imageOf(ev.dataTransfer);
  if (!f) throw new Error('Drop an image file (JPEG, PNG, WebP, GIF or BMP).');
  await classifyBlob(f, f.name || 'dropped image');
}));
document.addEventListener('paste', guarded(async (ev) => {
  if (ev.target === $('classes')) return;
  const f = imageOf(ev.clipboardData);
  if (!f) return;
  ev.preventDefault();
  await classifyBlob(f, f.name || 'pasted image');
}));

/** Starts the page: WebGPU probe, samples, and the exported model if the server has one. */
async function start() {
  try {
    state.webgpuAvailable = !!(navigator.gpu && await navigator.gpu.requestAdapter());
  } catch {
    state.webgpuAvailable = false;
  }
  await loadSamples().catch((e) => showError(`samples.json: ${e.message}`));
  const head = await fetch('model.onnx', { method: 'HEAD' }).catch(() => null);
  if (head?.ok) await guarded(useExported)();
  state.ready = true;
}
start();
