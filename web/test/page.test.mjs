// Browser test of the page in headless Chromium (Debian's chromium, driven by playwright-core).
//
// Environment: CNNLAB_WEB_FIXTURES (required) is a directory written by
// `go run ./onnxexport/internal/webgen --out DIR`: model.onnx, images/*.png, expected.json and the
// two bad files. CNNLAB_WEB_DIST (default web/dist, from `npm run build`) is the page.
// CNNLAB_WEB_ARTIFACTS (default web/test-results) receives the screenshot and the measured
// latencies. CHROMIUM (default /usr/bin/chromium) is the browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname, extname, normalize, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const webRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = process.env.CNNLAB_WEB_FIXTURES;
const dist = resolve(process.env.CNNLAB_WEB_DIST || join(webRoot, 'dist'));
const artifacts = resolve(process.env.CNNLAB_WEB_ARTIFACTS || join(webRoot, 'test-results'));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.onnx': 'application/octet-stream' };

let server, browser, page, baseURL, userDataDir, expected;
const offsite = [];

/** Serves dist/ and the fixtures' model.onnx at /model.onnx on 127.0.0.1. */
function startServer() {
  return new Promise((ok) => {
    const srv = createServer((req, res) => {
      let path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      if (path === '/') path = '/index.html';
      const file = path === '/model.onnx' ? join(fixtures, 'model.onnx') : join(dist, normalize(path));
      if (!file.startsWith(dist) && path !== '/model.onnx' || !existsSync(file)) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'Content-Type': types[extname(file)] || 'application/octet-stream' });
      res.end(readFileSync(file));
    });
    srv.listen(0, '127.0.0.1', () => ok(srv));
  });
}

before(async () => {
  assert.ok(fixtures, 'CNNLAB_WEB_FIXTURES must name the directory written by onnxexport/internal/webgen');
  assert.ok(existsSync(join(dist, 'vendor', 'ort.wasm.min.mjs')), `${dist} is not built: run "npm run build" in web/`);
  assert.ok(existsSync(chromiumPath), `${chromiumPath} missing: run "bash scripts/setup.sh --browser"`);
  expected = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8'));
  server = await startServer();
  baseURL = `http://127.0.0.1:${server.address().port}/`;
  userDataDir = mkdtempSync(join(tmpdir(), 'cnnlab-chromium-'));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 900, height: 900 },
  });
  // Offline: anything not served by the local server is refused and recorded.
  await browser.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(baseURL)) return route.continue();
    offsite.push(url);
    return route.abort();
  });
  page = browser.pages()[0] || await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(baseURL);
  await page.waitForFunction(() => window.cnnlab && window.cnnlab.ready);
});

after(async () => {
  await browser?.close();
  server?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

/** Sets a file input and waits until counter (runs, errors or modelLoads) grows. */
async function setFile(selector, path) {
  const before = await page.evaluate(() => ({ ...window.cnnlab, model: null, last: null }));
  await page.setInputFiles(selector, path);
  await page.waitForFunction((b) => window.cnnlab.runs > b.runs || window.cnnlab.errors > b.errors || window.cnnlab.modelLoads > b.modelLoads, before);
  return page.evaluate(() => ({ runs: window.cnnlab.runs, errors: window.cnnlab.errors, lastError: window.cnnlab.lastError, last: window.cnnlab.last }));
}

test('loads the exported model and reads the class labels from its metadata', async () => {
  await page.click('#use-exported');
  await page.waitForFunction(() => window.cnnlab.modelLoads > 0 || window.cnnlab.errors > 0);
  assert.equal(await page.evaluate(() => window.cnnlab.lastError), '');
  assert.equal(await page.inputValue('#classes'), expected.class_ids.join(','));
});

test('classifies 20 real CIFAR-100 test images as GoMLX does', async () => {
  const latencies = [];
  let pixelMismatches = 0;
  for (const img of expected.images) {
    const r = await setFile('#image', join(fixtures, 'images', img.file));
    assert.equal(r.lastError, '', `${img.file}: page error`);
    assert.equal(r.last.file, img.file);
    const diff = r.last.pixels.reduce((n, p, i) => n + (p !== img.pixels[i] ? 1 : 0), 0);
    pixelMismatches += diff;
    assert.equal(diff, 0, `${img.file} (${img.width}×${img.height}): ${diff} of 3072 resized values differ from Go's datasets.LoadImageFile`);
    assert.equal(r.last.index, img.index, `${img.file}: page predicts output ${r.last.index} (${r.last.name}), GoMLX ${img.index} (${img.name})`);
    assert.equal(r.last.id, img.class_id);
    const maxDiff = Math.max(...r.last.logits.map((v, i) => Math.abs(v - img.logits[i])));
    assert.ok(maxDiff <= 1e-4, `${img.file}: logits differ from GoMLX's by ${maxDiff}`);
    assert.match(await page.textContent('#label'), new RegExp(`^Class label ${img.class_id} — ${img.name}$`));
    latencies.push(r.last.inferenceMs);
  }
  latencies.sort((a, b) => a - b);
  const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
  const summary = { images: latencies.length, inference_ms_mean: mean, inference_ms_median: latencies[latencies.length >> 1],
    inference_ms_max: latencies[latencies.length - 1], resized_pixel_mismatches: pixelMismatches };
  console.log('in-browser latency per image (ms):', JSON.stringify(summary));
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(join(artifacts, 'latency.json'), JSON.stringify(summary, null, 2) + '\n');
  await page.screenshot({ path: join(artifacts, 'page-prediction.png'), fullPage: true });
});

test('a typed class list relabels the outputs (the slide: 0,50,54)', async () => {
  const img = expected.images.find((e) => e.index === 2) || expected.images[0];
  await page.fill('#classes', '0,50,54');
  const r = await setFile('#image', join(fixtures, 'images', img.file));
  assert.equal(r.lastError, '');
  const want = [0, 50, 54][img.index];
  assert.equal(r.last.id, want);
  assert.match(await page.textContent('#label'), new RegExp(`^Class label ${want} `));
  await page.fill('#classes', '0,50');
  const bad = await setFile('#image', join(fixtures, 'images', img.file));
  assert.match(bad.lastError, /model has 3 outputs but 2 class ids/);
  await page.fill('#classes', expected.class_ids.join(','));
});

test('a non-ONNX file shows a readable error and the page keeps working', async () => {
  const r = await setFile('#model', join(fixtures, 'not-onnx.onnx'));
  assert.match(r.lastError, /not-onnx\.onnx: not an ONNX model/);
  assert.equal(await page.isVisible('#error'), true);
  const again = await setFile('#model', join(fixtures, 'model.onnx'));
  assert.equal(again.lastError, r.lastError); // no new error
  const img = expected.images[0];
  const ok = await setFile('#image', join(fixtures, 'images', img.file));
  assert.equal(ok.last.index, img.index);
  assert.equal(await page.isVisible('#error'), false);
});

test('a non-image file shows a readable error and the page keeps working', async () => {
  const r = await setFile('#image', join(fixtures, 'not-an-image.png'));
  assert.match(r.lastError, /not-an-image\.png: cannot be decoded as an image/);
  const img = expected.images[1];
  const ok = await setFile('#image', join(fixtures, 'images', img.file));
  assert.equal(ok.last.index, img.index);
  assert.equal(await page.isVisible('#error'), false);
});

test('works offline: no request leaves the local server', () => {
  assert.deepEqual(offsite, []);
});
