/**
 * Settings (schema/plugin.json): panes opened by default, hiding the
 * cluster manager, the dark theme.
 */
import { galata } from '@jupyterlab/galata';

import { expect, test } from './fixtures';
import { openSidebar, screenshot, shutdownAll, startCluster } from './helpers';

test.describe('settings', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'coffea-casa-lab:plugin': {
        hideClusterManager: true,
        defaultPanes: ['Progress'],
        pollInterval: 1000
      },
      '@jupyterlab/apputils-extension:themes': { theme: 'JupyterLab Dark' }
    }
  });
  test.beforeEach(async ({ request }) => shutdownAll(request));
  test.afterEach(async ({ request }) => shutdownAll(request));

  test('default panes open, the cluster manager hides, dark theme', async ({
    page,
    request
  }, testInfo) => {
    await startCluster(request, 1);
    const panel = await openSidebar(page);
    await expect(
      panel.getByRole('region', { name: 'Dask dashboard' })
    ).toHaveClass(/jp-mod-active/, { timeout: 30000 });
    await expect(panel.locator('.jp-CoffeaCasa-card')).toHaveCount(0);
    await expect(panel.getByRole('button', { name: '+ NEW' })).toHaveCount(0);

    // `defaultPanes`: Progress opened by itself, live.
    await expect(page.getByRole('tab', { name: 'Progress' })).toBeVisible();
    const frame = page.frameLocator('.jp-CoffeaCasa-dashboardPane iframe');
    await expect(frame.locator('canvas').first()).toBeVisible({
      timeout: 30000
    });
    expect(await page.evaluate(() => document.body.dataset.jpThemeLight)).toBe(
      'false'
    );
    await screenshot(page, testInfo, 'dark-theme-dashboard');
  });
});
