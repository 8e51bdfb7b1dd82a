// Notebook 05's "upload your own image" cell in JupyterLab (headless Chromium): the cell first shows
// test image 0 as a PNG file, then a BMP picked in its file field (built here: 64×48, orange) is sent
// to the kernel, decoded by datasets.DecodeImage and classified; a file that is not an image gives
// the decoder's error in place of the output; «Готово» keeps the last result in the notebook.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, lastOutput, openBrowser, runAll, showOutput } from './lab.mjs';

let browser;
let page;

before(async () => { ({ browser, page } = await openBrowser()); });
after(async () => { if (browser) await browser.close(); });

/** bmp returns a 24-bit BMP file of w×h pixels of one colour [r, g, b]. */
function bmp(w, h, [r, g, b]) {
  const row = Math.ceil((3 * w) / 4) * 4;
  const buf = Buffer.alloc(54 + row * h);
  buf.write('BM', 0, 'ascii');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(w, 18);
  buf.writeInt32LE(h, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(24, 28);
  buf.writeUInt32LE(row * h, 34);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = 54 + y * row + 3 * x;
      buf[o] = b; buf[o + 1] = g; buf[o + 2] = r;
    }
  }
  return buf;
}

/** The HTML of the outputs of the notebook's last code cell. */
const outputHTML = () => page.evaluate(() => {
  const cells = document.querySelectorAll('.jp-CodeCell');
  return cells[cells.length - 1]?.querySelector('.jp-Cell-outputArea')?.innerHTML || '';
});

/** Waits until the last cell's output holds a result table and differs from before. */
const newResult = (before) => page.waitForFunction((prev) => {
  const cells = document.querySelectorAll('.jp-CodeCell');
  const out = cells[cells.length - 1]?.querySelector('.jp-Cell-outputArea');
  return out && out.querySelector('img') && out.querySelector('table') && out.innerHTML !== prev;
}, before, { timeout: 240000 });

const classRows = () => page.evaluate(() => {
  const cells = document.querySelectorAll('.jp-CodeCell');
  return cells[cells.length - 1].querySelectorAll('.jp-Cell-outputArea table tr').length - 1;
});

test('an uploaded file is classified, a bad one explained, the last result kept', { timeout: 420000 }, async () => {
  try {
    await runAll(page, 'upload.ipynb');
    // The cell's source names test-0.png too: wait on its output, not on the page's text.
    await page.waitForFunction(() => document.querySelector('input[type=file]'), null, { timeout: 240000 });
    await newResult('');
    assert.equal(await classRows(), 3, 'the lecture model knows three classes: three rows');
    await showOutput(page);
    await page.screenshot({ path: join(artifacts, 'lab-upload-default.png'), fullPage: true });

    let before = await outputHTML();
    await page.setInputFiles('input[type=file]', { name: 'orange.bmp', mimeType: 'image/bmp', buffer: bmp(64, 48, [255, 140, 0]) });
    await newResult(before);
    assert.equal(await classRows(), 3);
    assert.match(await lastOutput(page), /apple|otter|pickup_truck/);
    await showOutput(page);
    await page.screenshot({ path: join(artifacts, 'lab-upload-bmp.png'), fullPage: true });

    await page.setInputFiles('input[type=file]', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not an image') });
    await page.waitForFunction(() => document.body.innerText.includes('notes.png: reading image header'), null, { timeout: 60000 });

    before = await outputHTML();
    await page.setInputFiles('input[type=file]', { name: 'orange2.bmp', mimeType: 'image/bmp', buffer: bmp(40, 40, [255, 140, 0]) });
    await newResult(before);
    await page.getByRole('button', { name: 'Готово' }).click();
    await page.waitForFunction(() => document.body.innerText.includes('ваше изображение: orange2.bmp'), null, { timeout: 60000 });
    assert.equal(await page.evaluate(() => document.querySelectorAll('input[type=file]').length), 0, 'the file field goes with «Готово»');
    assert.equal(await classRows(), 3, 'the last result stays');
    await showOutput(page);
    await page.screenshot({ path: join(artifacts, 'lab-upload-done.png'), fullPage: true });
  } catch (e) {
    await page.screenshot({ path: join(artifacts, 'lab-upload-failure.png'), fullPage: true });
    console.error(`the last cell's output:\n${await lastOutput(page)}`);
    throw e;
  }
});
