// Notebook 03's first training cell in JupyterLab (headless Chromium): notebook.RunLive must draw
// the training curves under the cell while the model trains (CI-sized: 10 epochs, a scratch output
// directory so nothing is reloaded), not only once it has finished. A MutationObserver records every
// figure added to the cell's outputs and whether the cell's final line was already there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, lastOutput, openBrowser, runAll, showOutput } from './lab.mjs';

let browser;
let page;

before(async () => { ({ browser, page } = await openBrowser()); });
after(async () => { if (browser) await browser.close(); });

test('the training curves are redrawn while the model trains', { timeout: 420000 }, async () => {
  try {
    await runAll(page, 'live.ipynb', () => {
      window.figures = [];
      // Only the cell's outputs count: its source holds the same words.
      window.outputText = () => {
        const cells = document.querySelectorAll('.jp-CodeCell');
        return cells[cells.length - 1]?.querySelector('.jp-Cell-outputArea')?.innerText || '';
      };
      new MutationObserver((mutations) => {
        for (const m of mutations) {
          for (const n of m.addedNodes) {
            const imgs = n.nodeType === 1 ? (n.tagName === 'IMG' ? [n] : [...n.querySelectorAll('img')]) : [];
            if (imgs.length) {
              const text = window.outputText();
              window.figures.push({ finished: text.includes('точность train'), epochs: (text.match(/эпоха \d+\/10:/g) || []).length });
            }
          }
        }
      }).observe(document.body, { childList: true, subtree: true });
    });
    await page.waitForFunction(() => window.outputText().includes('точность train'), null, { timeout: 360000 });
    await page.waitForTimeout(1000);
    const figures = await page.evaluate(() => window.figures);
    const live = figures.filter((f) => !f.finished && f.epochs < 10);
    console.log(`figures added: ${figures.length}, of them before the cell's final line: ${live.length}`);
    assert.ok(live.length >= 2, `want the curves drawn at least twice while training; got ${JSON.stringify(figures)}`);
    assert.match(await lastOutput(page), /эпоха 10\/10: train loss/, 'the progress lines are in Russian');
    await showOutput(page);
    await page.screenshot({ path: join(artifacts, 'lab-live-curves.png'), fullPage: true });
  } catch (e) {
    await page.screenshot({ path: join(artifacts, 'lab-live-failure.png'), fullPage: true });
    console.error(`the last cell's output:\n${await lastOutput(page)}`);
    throw e;
  }
});
