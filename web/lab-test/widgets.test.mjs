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
import { join } from 'node:path';
import { artifacts, lastOutput as lastOutputOf, openBrowser, runAll, showOutput as showOutputOf } from './lab.mjs';

let browser;
let page;

before(async () => { ({ browser, page } = await openBrowser()); });
after(async () => { if (browser) await browser.close(); });

const showOutput = () => showOutputOf(page);
const lastOutput = () => lastOutputOf(page);

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
  await runAll(page, 'widgets.ipynb');
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
