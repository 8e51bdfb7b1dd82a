// Browser test of the page in headless Chromium (Debian's chromium, driven by playwright-core),
// served by `cnnlab serve`, on a desktop (1280×800) and a phone (390×844, touch) viewport.
//
// Environment (scripts/test-web.sh sets it): CNNLAB_WEB_FIXTURES (required) is a directory written
// by `go run ./onnxexport/internal/webgen --out DIR` plus predict.json (`cnnlab predict --json` on
// DIR/parity/*); CNNLAB_BIN is the cnnlab binary; CNNLAB_DATA_DIR the data set (the samples'
// pixels are checked against test.bin). CNNLAB_WEB_DIST (default web/dist) is the built page.
// CNNLAB_WEB_ARTIFACTS (default out/web-test) receives screenshots, latency and axe reports.
// CHROMIUM (default /usr/bin/chromium) is the browser.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const webRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = process.env.CNNLAB_WEB_FIXTURES;
const dist = resolve(process.env.CNNLAB_WEB_DIST || join(webRoot, 'dist'));
const artifacts = resolve(process.env.CNNLAB_WEB_ARTIFACTS || join(webRoot, '..', 'out', 'web-test'));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let server, baseURL, browser, expected, predicted;
const offsite = [];

/** Starts `cnnlab serve` on a free loopback port and returns its base URL. */
function startServe() {
  const bin = process.env.CNNLAB_BIN;
  assert.ok(bin && existsSync(bin), 'CNNLAB_BIN must name the cnnlab binary');
  server = spawn(bin, ['serve', '--dir', dist, '--model', join(fixtures, 'model.onnx'), '--addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ok, fail) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/on (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) ok(m[1]);
    });
    server.on('exit', (code) => fail(new Error(`cnnlab serve exited with ${code}: ${out}`)));
  });
}

before(async () => {
  assert.ok(fixtures, 'CNNLAB_WEB_FIXTURES must name the directory written by onnxexport/internal/webgen');
  assert.ok(existsSync(join(dist, 'vendor', 'ort.webgpu.min.mjs')), `${dist} is not built: run "npm run build" in web/`);
  assert.ok(existsSync(chromiumPath), `${chromiumPath} missing: run "bash scripts/setup.sh --browser"`);
  expected = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8'));
  predicted = JSON.parse(readFileSync(join(fixtures, 'predict.json'), 'utf8'));
  baseURL = await startServe();
  mkdirSync(artifacts, { recursive: true });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

const viewports = [
  { name: 'desktop', viewport: { width: 1280, height: 800 }, minTarget: 24 },
  { name: 'phone', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, minTarget: 44 },
];

for (const vp of viewports) {
  describe(`${vp.name} ${vp.viewport.width}×${vp.viewport.height}`, () => {
    let context, page;
    const shot = (name) => page.screenshot({ path: join(artifacts, `${vp.name}-${name}.png`), fullPage: true });
    /** The page's test state (without the model object). */
    const st = () => page.evaluate(() => ({ ...window.cnnlab, model: null }));
    /** Runs action and waits until the page has finished one more result or error. */
    async function settle(action) {
      const b = await st();
      await action();
      await page.waitForFunction((b) => window.cnnlab.runs > b.runs || window.cnnlab.errors > b.errors, b);
      return st();
    }
    const setFile = (sel, path) => settle(() => page.setInputFiles(sel, path));

    before(async () => {
      context = await browser.newContext({ viewport: vp.viewport, isMobile: !!vp.isMobile, hasTouch: !!vp.hasTouch,
        deviceScaleFactor: vp.deviceScaleFactor || 1 });
      await context.grantPermissions(['camera'], { origin: baseURL.replace(/\/$/, '') });
      await context.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(baseURL) || url.startsWith('blob:') || url.startsWith('data:')) return route.continue();
        offsite.push(url);
        return route.abort();
      });
      page = await context.newPage();
      page.on('pageerror', (e) => console.error(`${vp.name} page error:`, e.message));
      await page.goto(baseURL);
      await page.waitForFunction(() => window.cnnlab && window.cnnlab.ready);
    });
    after(() => context?.close());

    test('loads the exported model at once, warmed up, cross-origin isolated, backend shown', async () => {
      const s = await st();
      assert.equal(s.lastError, '');
      assert.equal(s.modelLoads, 1);
      assert.equal(await page.inputValue('#classes'), expected.class_ids.join(','));
      assert.equal(s.crossOriginIsolated, true, 'cnnlab serve must send COOP/COEP');
      assert.ok(s.threads > 1, `${s.threads} WASM threads`);
      assert.ok(s.warmupMs > 0);
      // WebGPU where the browser has an adapter, else WebAssembly; headless --disable-gpu has none.
      assert.equal(s.backend, s.webgpuAvailable ? 'webgpu' : 'wasm');
      const status = await page.textContent('#model-status');
      assert.match(status, s.backend === 'webgpu' ? /WebGPU/ : new RegExp(`WebAssembly \\(${s.threads} threads\\)`));
      assert.match(await page.textContent('#knows'), /knows only 3 classes: apple \(0\), otter \(55\), pickup_truck \(58\)/);
      await shot('1-loaded');
    });

    test('classifies 20 real CIFAR-100 test images as GoMLX does', async () => {
      const latencies = [];
      for (const img of expected.images) {
        const r = await setFile('#image', join(fixtures, 'images', img.file));
        assert.equal(r.lastError, '', `${img.file}: page error`);
        assert.match(r.last.file, new RegExp(`^${img.file} `));
        const diff = r.last.pixels.reduce((n, p, i) => n + (p !== img.pixels[i] ? 1 : 0), 0);
        assert.equal(diff, 0, `${img.file}: ${diff} of 3072 resized values differ from Go's datasets.LoadImageFile`);
        assert.equal(r.last.index, img.index, `${img.file}: page ${r.last.name}, GoMLX ${img.name}`);
        const maxDiff = Math.max(...r.last.logits.map((v, i) => Math.abs(v - img.logits[i])));
        assert.ok(maxDiff <= 1e-4, `${img.file}: logits differ from GoMLX's by ${maxDiff}`);
        assert.match(await page.textContent('#label'), new RegExp(`^${img.name} \\(class ${img.class_id}\\)`));
        assert.equal(await page.textContent('#photo-name'), `${img.file} (${img.width}×${img.height})`);
        assert.equal(await page.isVisible('#photo'), true);
        latencies.push(r.last.inferenceMs);
      }
      latencies.sort((a, b) => a - b);
      const s = await st();
      const summary = { viewport: vp.name, backend: s.backend, threads: s.threads, warmup_ms: s.warmupMs, images: latencies.length,
        inference_ms_median: latencies[latencies.length >> 1], inference_ms_max: latencies[latencies.length - 1] };
      console.log('in-browser latency:', JSON.stringify(summary));
      writeFileSync(join(artifacts, `${vp.name}-latency.json`), JSON.stringify(summary, null, 2) + '\n');
      await shot('2-prediction');
    });

    test('only the latest request is shown: a large photo then at once a small one', async () => {
      const small = expected.images[0];
      const b = await st();
      await page.setInputFiles('#image', join(fixtures, 'big.jpg'));
      await page.setInputFiles('#image', join(fixtures, 'images', small.file));
      await page.waitForFunction((b) => window.cnnlab.runs > b.runs && window.cnnlab.stale > b.stale, b, { timeout: 60000 });
      await page.waitForTimeout(300);
      const s = await st();
      assert.equal(s.runs, b.runs + 1, 'the stale request must not be shown');
      assert.match(s.last.file, new RegExp(`^${small.file} `));
      assert.match(await page.textContent('#photo-name'), new RegExp(`^${small.file} `));
      assert.equal(await page.isVisible('.spinner'), false);
    });

    test('the spinner shows while a large photo is decoded off the main thread', async () => {
      const b = await st();
      await page.setInputFiles('#image', join(fixtures, 'big.jpg'));
      await page.waitForSelector('.spinner:not([hidden])', { timeout: 5000 });
      // The main thread answers (runs this script) while the worker still decodes.
      const during = await page.evaluate(() => ({ busy: document.getElementById('busy-text').textContent, ariaBusy: document.getElementById('result').getAttribute('aria-busy') }));
      assert.match(during.busy, /^(Reading|Classifying) big\.jpg/);
      assert.equal(during.ariaBusy, 'true');
      await page.waitForFunction((b) => window.cnnlab.runs > b.runs, b, { timeout: 60000 });
      assert.match((await st()).last.file, /^big\.jpg \(3000×3000\)/);
    });

    test('an image error clears the old result', async () => {
      const r = await setFile('#image', join(fixtures, 'not-an-image.png'));
      assert.match(r.lastError, /not-an-image\.png: cannot be decoded as an image/);
      assert.equal(await page.isVisible('#result'), false);
      assert.equal(r.last, null);
      await shot('3-image-error');
      const img = expected.images[1];
      const ok = await setFile('#image', join(fixtures, 'images', img.file));
      assert.equal(ok.last.index, img.index);
      assert.equal(await page.isVisible('#error'), false);
    });

    test('built-in CIFAR-100 test images with their true labels', async () => {
      const samples = (await st()).samples;
      assert.ok(samples.length >= 5, `${samples.length} samples`);
      const bin = readFileSync(join(process.env.CNNLAB_DATA_DIR, 'cifar-100-binary', 'test.bin'));
      const buttons = await page.$$('#samples button');
      assert.equal(buttons.length, samples.length);
      for (let i = 0; i < samples.length; i++) {
        const s = samples[i];
        const r = await settle(() => buttons[i].click());
        const rec = bin.subarray(s.index * 3074, (s.index + 1) * 3074);
        assert.equal(rec[1], s.fine, `sample ${i}: true label`);
        assert.deepEqual(r.last.pixels, Array.from(rec.subarray(2)), `sample ${i}: pixels differ from test.bin`);
        const truth = await page.textContent('#truth');
        assert.match(truth, new RegExp(`True label: ${s.name} \\(class ${s.fine}\\)`));
        if (!expected.class_ids.includes(s.fine)) assert.match(truth, /the model does not know this class/);
      }
      assert.match(await page.textContent('#scope'), /Only 3 classes are possible answers/);
      await shot('4-sample');
    });

    test('drag-and-drop and paste anywhere on the page', async () => {
      const img = expected.images[2];
      const bytes = Array.from(readFileSync(join(fixtures, 'images', img.file)));
      for (const kind of ['drop', 'paste']) {
        const r = await settle(() => page.evaluate(({ bytes, name, kind }) => {
          const dt = new DataTransfer();
          dt.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
          const ev = kind === 'drop' ? new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true })
            : new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
          document.querySelector('h1').dispatchEvent(ev);
        }, { bytes, name: `${kind}-${img.file}`, kind }));
        assert.equal(r.lastError, '');
        assert.match(r.last.file, new RegExp(`^${kind}-${img.file}`));
        assert.equal(r.last.index, img.index);
      }
    });

    test('camera: getUserMedia with a fake device, then a photo is classified', async () => {
      await page.click('#camera-start');
      await page.waitForFunction(() => window.cnnlab.camera || window.cnnlab.lastError.startsWith('Camera'));
      const s = await st();
      assert.equal(s.lastError.startsWith('Camera'), false, s.lastError);
      assert.ok(s.camera.width > 0 && s.camera.height > 0);
      await shot('5-camera');
      const r = await settle(() => page.click('#camera-shoot'));
      assert.equal(r.lastError, '');
      assert.match(r.last.file, new RegExp(`^camera photo \\(${s.camera.width}×${s.camera.height}\\)`));
      await page.click('#camera-stop');
      assert.equal(await page.isVisible('#camera'), false);
      // Without camera access (refused here), the page offers the file input with capture="environment".
      assert.equal(await page.isVisible('#camera-file-label'), false);
      await page.evaluate(() => { navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError')); });
      const refused = await settle(() => page.click('#camera-start'));
      assert.match(refused.lastError, /^Camera: Permission denied\. Use "Take a photo…"/);
      assert.equal(await page.isVisible('#camera-file-label'), true);
      assert.equal(await page.getAttribute('#camera-file', 'capture'), 'environment');
      const img = expected.images[3];
      const viaCapture = await setFile('#camera-file', join(fixtures, 'images', img.file));
      assert.equal(viaCapture.lastError, '');
      assert.equal(viaCapture.last.index, img.index);
    });

    test('class ids: duplicates and unknown ids rejected, a change re-classifies', async () => {
      const img = expected.images.find((e) => e.index === 2) || expected.images[0];
      await setFile('#image', join(fixtures, 'images', img.file));
      for (const [text, want] of [['0,0,0', /0 \(apple\) is given twice/], ['0,55,100', /"100" is not a CIFAR-100 class id/],
        ['0,55', /model has 3 outputs but 2 class ids/], ['a,b,c', /"a" is not/]]) {
        const r = await settle(() => page.fill('#classes', text));
        assert.match(r.lastError, want, text);
        assert.match(await page.textContent('#classes-error'), want);
        assert.equal(await page.getAttribute('#classes', 'aria-invalid'), 'true');
      }
      const r = await settle(() => page.fill('#classes', '0,50,54'));
      assert.equal(r.lastError, '');
      assert.equal(await page.isVisible('#error'), false);
      assert.equal(r.last.id, [0, 50, 54][img.index]);
      assert.match(await page.textContent('#knows'), /apple \(0\), mouse \(50\), orchid \(54\)/);
      await page.fill('#classes', expected.class_ids.join(','));
      await page.waitForFunction(() => window.cnnlab.last && window.cnnlab.classes.join(',') === '0,55,58');
    });

    test('parity with cnnlab predict: EXIF-rotated JPEG and PNG with alpha', async () => {
      const report = [];
      for (const p of predicted) {
        const r = await setFile('#image', p.file);
        assert.equal(r.lastError, '', p.file);
        const top = p.top[0];
        assert.equal(r.last.index, top.class, `${basename(p.file)}: page ${r.last.name}, predict ${top.name}`);
        const dp = Math.max(...r.last.probabilities.map((v, i) => Math.abs(v - p.probabilities[i])));
        const dpx = Math.max(...r.last.pixels.map((v, i) => Math.abs(v - p.pixels[i])));
        report.push({ file: basename(p.file), top1: top.name, page_p: r.last.probabilities[top.class], predict_p: top.probability, max_prob_diff: dp, max_pixel_diff: dpx });
        assert.ok(dp <= 1e-3, `${basename(p.file)}: probabilities differ by ${dp}`);
      }
      console.log('parity with predict:', JSON.stringify(report));
      writeFileSync(join(artifacts, `${vp.name}-parity.json`), JSON.stringify(report, null, 2) + '\n');
      await shot('6-parity-alpha');
    });

    test('occlusion map: batched grey patches, drop of the top class drawn as a heat map', async () => {
      const img = expected.images[0];
      const r = await setFile('#image', join(fixtures, 'images', img.file));
      const o = r.last.occlusion;
      assert.equal(o.batch, 49);
      assert.deepEqual(o.positions, [0, 4, 8, 12, 16, 20, 24]);
      assert.ok(o.maxDrop > 0, 'some patch must lower the top probability');
      // Check one occluded copy against a separate run of the model.
      const k = 24; // Patch at (12, 12).
      const p = await page.evaluate(async ({ pixels, k, top }) => {
        const { session } = window.cnnlab.model;
        const ort = await import('./vendor/ort.webgpu.min.mjs');
        const x = Float32Array.from(pixels, (v) => v / 255);
        const [oy, ox] = [4 * Math.floor(k / 7), 4 * (k % 7)];
        for (let c = 0; c < 3; c++) for (let y = oy; y < oy + 8; y++) for (let xx = ox; xx < ox + 8; xx++) x[c * 1024 + y * 32 + xx] = 0.5;
        const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, 32, 32]) });
        const l = Array.from(out[session.outputNames[0]].data);
        const m = Math.max(...l);
        const e = l.map((v) => Math.exp(v - m));
        return e[top] / e.reduce((a, b) => a + b, 0);
      }, { pixels: r.last.pixels, k, top: r.last.index });
      const want = r.last.probabilities[r.last.index] - p;
      assert.ok(Math.abs(o.drops[k] - want) < 1e-5, `drop ${o.drops[k]}, separate run ${want}`);
      const painted = await page.evaluate(() => {
        const d = document.getElementById('heat').getContext('2d').getImageData(0, 0, 32, 32).data;
        let reds = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 1] < 200) reds++;
        return reds;
      });
      assert.ok(painted > 0, 'the heat map is blank');
      await shot('7-occlusion');
    });

    test('the 100-class model: fine and coarse labels, all classes known, GoMLX logits', async () => {
      const r = await settle(() => page.setInputFiles('#model', join(fixtures, 'model100.onnx')));
      assert.equal((await st()).modelLoads, 2);
      assert.equal((await page.inputValue('#classes')).split(',').length, 100);
      assert.match(await page.textContent('#knows'), /all 100 CIFAR-100 classes/);
      for (const e of expected.model100) {
        const s = await setFile('#image', join(fixtures, 'images', e.file));
        assert.equal(s.last.index, e.index);
        const d = Math.max(...s.last.logits.map((v, i) => Math.abs(v - e.logits[i])));
        assert.ok(d <= 1e-4, `model100 logits differ by ${d}`);
        assert.match(await page.textContent('#coarse'), /^Superclass: \w+ \(coarse \d+\); most probable superclass/);
        assert.equal(await page.isVisible('#scope'), false);
      }
      if (expected.model100_trained) {
        // A trained model (CNNLAB_WEB_MODEL100): the page's top-1 is GoMLX's (above); how many are right.
        const right = expected.model100.filter((e) => e.index === e.true_id).length;
        console.log(`trained 100-class model: ${right}/${expected.model100.length} test images right on the page`);
        assert.ok(right >= expected.model100.length / 2, `only ${right}/${expected.model100.length} right`);
      }
      await shot('8-model100');
      await settle(() => page.click('#use-exported'));
      assert.equal(r.lastError, r.lastError);
    });

    test('accessibility: axe audit, target sizes, labels, aria-live, keyboard path', async () => {
      // Show everything there is (result, errors hidden) before auditing.
      await setFile('#image', join(fixtures, 'images', expected.images[0].file));
      await page.addScriptTag({ content: axeSource });
      const res = await page.evaluate(() => window.axe.run(document, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      }));
      writeFileSync(join(artifacts, `${vp.name}-axe.json`), JSON.stringify({ violations: res.violations, passes: res.passes.map((p) => p.id) }, null, 2) + '\n');
      assert.deepEqual(res.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`), []);
      assert.ok(res.passes.some((p) => p.id === 'target-size') || vp.name === 'desktop', 'target-size rule ran');
      const small = await page.evaluate((min) => [...document.querySelectorAll('button, .button, input[type=text]')]
        .filter((e) => e.offsetParent !== null)
        .map((e) => ({ id: e.id || e.textContent.trim(), ...e.getBoundingClientRect().toJSON() }))
        .filter((r) => r.height < min || r.width < min), vp.minTarget);
      assert.deepEqual(small, [], `targets under ${vp.minTarget} px`);
      for (const id of ['model', 'image', 'classes', 'camera-file']) {
        assert.ok(await page.$(`label[for=${id}]`), `#${id} has no label`);
      }
      assert.equal(await page.getAttribute('#announce', 'aria-live'), 'polite');
      // Keyboard: Tab from the top reaches the exported-model button, the file inputs and a sample,
      // and Enter on a sample classifies it.
      await page.click('h1'); // Sequential focus navigation starts at the top.
      const order = [];
      for (let i = 0; i < 12; i++) {
        await page.keyboard.press('Tab');
        order.push(await page.evaluate(() => document.activeElement.id || document.activeElement.getAttribute('aria-label')));
      }
      for (const want of ['use-exported', 'model', 'classes', 'image', 'camera-start']) assert.ok(order.includes(want), `Tab order ${order} lacks ${want}`);
      const sample = order.find((x) => x && x.startsWith('Test image'));
      assert.ok(sample, `Tab order ${order} reaches no sample`);
      while (!(await page.evaluate(() => document.activeElement.getAttribute('aria-label') || '')).startsWith('Test image')) {
        await page.keyboard.press('Shift+Tab');
      }
      const r = await settle(() => page.keyboard.press('Enter'));
      assert.equal(r.lastError, r.lastError);
      assert.match(await page.textContent('#truth'), /True label/);
      const chooser = page.waitForEvent('filechooser');
      await page.focus('#image');
      await page.keyboard.press('Space');
      await chooser;
      await shot('9-keyboard');
    });
  });
}

// A browser with a WebGPU adapter (Chromium's software SwiftShader one): the page must run the
// model on WebGPU, say so, and still agree with GoMLX.
describe('WebGPU (SwiftShader adapter), desktop 1280×800', () => {
  let gpuBrowser, page;
  before(async () => {
    gpuBrowser = await chromium.launch({ executablePath: chromiumPath, headless: true,
      args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'] });
    const context = await gpuBrowser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(baseURL) || url.startsWith('blob:') || url.startsWith('data:')) return route.continue();
      offsite.push(url);
      return route.abort();
    });
    page = await context.newPage();
    await page.goto(baseURL);
    await page.waitForFunction(() => window.cnnlab && window.cnnlab.ready, null, { timeout: 120000 });
  });
  after(() => gpuBrowser?.close());

  test('runs on WebGPU, reports it, and agrees with GoMLX', async () => {
    const s0 = await page.evaluate(() => ({ ...window.cnnlab, model: null }));
    assert.equal(s0.lastError, '');
    assert.equal(s0.webgpuAvailable, true);
    assert.equal(s0.backend, 'webgpu');
    assert.match(await page.textContent('#model-status'), /on WebGPU; warm-up/);
    const report = [];
    for (const img of expected.images.slice(0, 6)) {
      const b = await page.evaluate(() => window.cnnlab.runs);
      await page.setInputFiles('#image', join(fixtures, 'images', img.file));
      await page.waitForFunction((b) => window.cnnlab.runs > b || window.cnnlab.lastError !== '', b, { timeout: 60000 });
      const last = await page.evaluate(() => window.cnnlab.last);
      assert.equal(last.backend, 'webgpu');
      assert.equal(last.index, img.index, `${img.file}: WebGPU ${last.name}, GoMLX ${img.name}`);
      const d = Math.max(...last.logits.map((v, i) => Math.abs(v - img.logits[i])));
      assert.ok(d <= 1e-3, `${img.file}: WebGPU logits differ from GoMLX's by ${d}`);
      assert.equal(last.occlusion.batch, 49);
      report.push({ file: img.file, inference_ms: last.inferenceMs, occlusion_ms: last.occlusion.ms, max_logit_diff: d });
    }
    assert.match(await page.textContent('#latency'), /^WebGPU, ONNX Runtime Web/);
    console.log('WebGPU (SwiftShader):', JSON.stringify(report));
    writeFileSync(join(artifacts, 'webgpu-latency.json'), JSON.stringify(report, null, 2) + '\n');
    await page.screenshot({ path: join(artifacts, 'webgpu-prediction.png'), fullPage: true });
  });
});

test('works offline: no request leaves the local server', () => {
  assert.deepEqual(offsite, []);
});
