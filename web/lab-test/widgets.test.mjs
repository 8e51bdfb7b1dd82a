// The interactive path of the notebooks in JupyterLab, in headless Chromium (driven by playwright-core):
// notebook 02's convolution-arithmetic explorer (its first cells and the widget cell, copied into a
// scratch notebook by scripts/test-lab-widgets.sh) runs in a GoNB kernel; the test moves the "вход n"
// slider from 5 to 7 and checks that the output size under the sliders changes from 3 to 4, then
// presses «Готово» and checks the output that stays in the notebook.
//
// Environment (set by scripts/test-lab-widgets.sh): CNNLAB_LAB_URL, the JupyterLab server with the
// notebook widgets.ipynb; CNNLAB_LAB_ARTIFACTS, where the screenshots go; CHROMIUM (default
// /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const labURL = process.env.CNNLAB_LAB_URL;
const artifacts = process.env.CNNLAB_LAB_ARTIFACTS || 'out/lab-test';
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
let browser;
let page;

before(async () => {
  assert.ok(labURL, 'CNNLAB_LAB_URL is not set (run scripts/test-lab-widgets.sh)');
  mkdirSync(artifacts, { recursive: true });
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'] });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
});

after(async () => {
  if (browser) await browser.close();
});

/** Scrolls the last cell's outputs into view, for the screenshots. */
const showOutput = () => page.evaluate(() => {
  const cells = document.querySelectorAll('.jp-CodeCell');
  cells[cells.length - 1]?.querySelector('.jp-Cell-outputArea')?.scrollIntoView();
});

/** The text of the outputs of the notebook's last code cell. */
const lastOutput = () => page.evaluate(() => {
  const cells = document.querySelectorAll('.jp-CodeCell');
  return cells.length ? cells[cells.length - 1].querySelector('.jp-Cell-outputArea')?.innerText || '' : '';
});

test('the explorer redraws when a slider moves, and keeps its last output', { timeout: 420000 }, async () => {
  try {
    await explorer();
  } catch (e) {
    await page.screenshot({ path: join(artifacts, 'lab-failure.png'), fullPage: true });
    const sliders = await page.evaluate(() => document.querySelectorAll('input[type=range]').length);
    console.error(`failed with ${sliders} sliders on the page; the last cell's output:\n${await lastOutput()}`);
    throw e;
  }
});

/** Runs the notebook, moves a slider and checks the explorer's outputs. */
async function explorer() {
  await page.goto(`${labURL}/lab/tree/widgets.ipynb`);
  await page.waitForFunction(() => window.jupyterapp && document.querySelector('.jp-Notebook'), null, { timeout: 120000 });
  // Wait for the GoNB kernel, then run every cell.
  await page.waitForFunction(() => document.querySelector('.jp-Toolbar-kernelName')?.textContent.includes('Go'), null,
    { timeout: 60000 });
  await page.waitForTimeout(3000);
  // Not awaited inside the page: the command's promise settles only when every cell has finished, and the
  // explorer's cell runs until «Готово» is pressed.
  await page.evaluate(() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); });
  // The four sliders of the explorer appear once its cell runs (GoNB compiles every cell first).
  await page.waitForFunction(() => document.querySelectorAll('input[type=range]').length === 4, null, { timeout: 180000 });
  await page.waitForFunction(() => document.body.innerText.includes('⌊(5 + 2·1 − 3)/2⌋ + 1 = 3'), null, { timeout: 60000 });
  await showOutput();
  await page.screenshot({ path: join(artifacts, 'lab-explorer-default.png'), fullPage: true });
  // Move "вход n" from 5 to 7, as a user dragging it does (input events, then change).
  await page.evaluate(() => {
    const slider = document.querySelectorAll('input[type=range]')[0];
    slider.value = '7';
    slider.dispatchEvent(new Event('input', { bubbles: true }));
    slider.dispatchEvent(new Event('change', { bubbles: true }));
  });
  await page.waitForFunction(() => document.body.innerText.includes('⌊(7 + 2·1 − 3)/2⌋ + 1 = 4'), null, { timeout: 60000 });
  assert.match(await lastOutput(), /вход 7×7, ядро 3×3, padding 1, stride 2 → выход 4×4|= 4/);
  await showOutput();
  await page.screenshot({ path: join(artifacts, 'lab-explorer-moved.png'), fullPage: true });
  // «Готово» ends the cell: the sliders go, the last settings and figure stay.
  await page.getByRole('button', { name: 'Готово' }).click();
  await page.waitForFunction(() => document.body.innerText.includes('вход n = 7, ядро k = 3, padding p = 1, stride s = 2'), null, { timeout: 60000 });
  assert.equal(await page.evaluate(() => document.querySelectorAll('input[type=range]').length), 0);
  await showOutput();
  await page.screenshot({ path: join(artifacts, 'lab-explorer-done.png'), fullPage: true });
}
