// Shared steps of the JupyterLab tests (scripts/test-lab-widgets.sh starts the server): a headless
// Chromium, and opening a scratch notebook and running all its cells in the GoNB kernel.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const labURL = process.env.CNNLAB_LAB_URL;
export const artifacts = process.env.CNNLAB_LAB_ARTIFACTS || 'out/lab-test';
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

/** Launches Chromium and returns { browser, page } (a 1280×1000 desktop page). */
export async function openBrowser() {
  assert.ok(labURL, 'CNNLAB_LAB_URL is not set (run scripts/test-lab-widgets.sh)');
  mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'] });
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  return { browser, page };
}

/**
 * Opens notebook name in JupyterLab, waits for the GoNB kernel and starts running every cell (not
 * awaited: the command's promise settles only when every cell has finished, and widget cells run
 * until «Готово» is pressed). before(page), if given, runs in the page first (e.g. to install an
 * observer).
 */
export async function runAll(page, name, before) {
  // ?reset: a fresh workspace, so the notebooks of earlier tests are not open in other tabs (the
  // tests query the cells of the whole page).
  await page.goto(`${labURL}/lab/tree/${name}?reset`);
  await page.waitForFunction(() => window.jupyterapp && document.querySelector('.jp-Notebook'), null, { timeout: 120000 });
  await page.waitForFunction(() => document.querySelector('.jp-Toolbar-kernelName')?.textContent.includes('Go'), null,
    { timeout: 60000 });
  await page.waitForTimeout(3000);
  if (before) await page.evaluate(before);
  await page.evaluate(() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); });
}

/** Scrolls the last cell's outputs into view, for the screenshots. */
export const showOutput = (page) => page.evaluate(() => {
  const cells = document.querySelectorAll('.jp-CodeCell');
  cells[cells.length - 1]?.querySelector('.jp-Cell-outputArea')?.scrollIntoView();
});

/** The text of the outputs of the notebook's last code cell. */
export const lastOutput = (page) => page.evaluate(() => {
  const cells = document.querySelectorAll('.jp-CodeCell');
  return cells.length ? cells[cells.length - 1].querySelector('.jp-Cell-outputArea')?.innerText || '' : '';
});
