/**
 * Performance report in one click (docs chapter 3.4): toggle recording on a
 * cluster card, run work in a notebook, toggle off, and the saved report
 * opens in a lab tab.
 */
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

import { expect, test } from './fixtures';
import {
  API,
  BASE_PATH,
  card,
  ICluster,
  ORIGIN,
  openSidebar,
  screenshot,
  shutdownAll,
  startCluster
} from './helpers';

const CONTENTS = `${ORIGIN}${BASE_PATH}api/contents`;

/**
 * In the first cell of the open notebook: connect a client to `cluster`,
 * print `args`, and wait for `expected` in the output.
 */
async function printOnCluster(
  page: IJupyterLabPageFixture,
  cluster: ICluster,
  args: string,
  expected: string
): Promise<void> {
  await page.notebook.setCell(
    0,
    'code',
    'from distributed import Client\n' +
      'from coffea_casa import CoffeaCasaCluster\n' +
      `client = Client("${cluster.scheduler_address}", security=CoffeaCasaCluster.security())\n` +
      `print(${args})`
  );
  await page.notebook.runCell(0);
  const output = await page.notebook.getCellOutputLocator(0);
  await expect(output!).toContainText(expected, { timeout: 60000 });
}

test.describe('performance report', () => {
  test.beforeEach(async ({ request }) => shutdownAll(request));
  test.afterEach(async ({ page, request }) => {
    await page.notebook.close(true).catch(() => undefined);
    await shutdownAll(request);
  });

  test('record, run, stop: the report opens in a tab', async ({
    page,
    request
  }, testInfo) => {
    test.setTimeout(180000);
    const cluster = await startCluster(request, 1);
    await page.notebook.createNew();
    const panel = await openSidebar(page);
    const item = card(panel, cluster.id);
    const toggle = item.getByLabel('Record performance report');
    await expect(toggle).toBeEnabled();
    await expect(toggle).not.toBeChecked();

    await toggle.click(); // checked once the server has started recording
    await expect(toggle).toBeChecked();
    const model = await (
      await request.get(`${API}/clusters/${cluster.id}`)
    ).json();
    expect(model.recording).toBe(true);

    await printOnCluster(
      page,
      cluster,
      '"total", client.submit(sum, range(1000), pure=False).result()',
      'total 499500'
    );

    await toggle.click();
    const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', {
      hasText: /^dask-report-.*\.html$/
    });
    await expect(tab).toHaveCount(1, { timeout: 60000 });
    await expect(toggle).not.toBeChecked();
    const name = (await tab.innerText()).trim();
    // Trusted, so bokeh's scripts (inline in the file) run and draw the plots.
    const frame = page.locator('.jp-HTMLViewer iframe');
    await expect(frame).toHaveAttribute('sandbox', /allow-scripts/);
    const report = page.frameLocator('.jp-HTMLViewer iframe');
    await expect(report.getByText('Dask Performance Report')).toBeVisible({
      timeout: 30000
    });
    await expect(report.getByText('number of tasks: 1')).toBeVisible();
    await screenshot(page, testInfo, 'performance-report-tab');

    // The file is in the server's root folder and is Dask's report.
    const file = await request.get(`${CONTENTS}/${encodeURIComponent(name)}`);
    expect(file.ok()).toBe(true);
    expect((await file.json()).content).toContain('Dask Performance Report');
    await request.delete(`${CONTENTS}/${encodeURIComponent(name)}`);
  });

  test('a .py file from the file browser reaches the workers', async ({
    page,
    request,
    tmpPath
  }) => {
    test.setTimeout(180000);
    const cluster = await startCluster(request, 1);
    await request.put(`${CONTENTS}/${tmpPath}/cc_ui_helper.py`, {
      data: { type: 'file', format: 'text', content: 'ANSWER = 6 * 7\n' }
    });
    await openSidebar(page); // selects the running cluster
    await page.evaluate(
      path =>
        (window as any).jupyterapp.commands.execute('filebrowser:go-to-path', {
          path
        }),
      tmpPath
    );
    await page
      .locator('.jp-DirListing-item', { hasText: 'cc_ui_helper.py' })
      .click({ button: 'right' });
    await page
      .getByRole('menuitem', { name: 'Send File to Dask Workers' })
      .click();
    await expect(page.locator('.jp-toast-message').first()).toContainText(
      `Sent ${tmpPath}/cc_ui_helper.py`,
      { timeout: 30000 }
    );

    await page.notebook.createNew();
    await printOnCluster(
      page,
      cluster,
      '"answer", client.submit(eval, "__import__(\'cc_ui_helper\').ANSWER", pure=False).result()',
      'answer 42'
    );
  });
});
