import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { Route } from '@playwright/test';

import { expect, test } from './fixtures';

const SIDEBAR_ID = 'coffea-casa-lab-sidebar';
const OPEN_COMMAND = 'coffea-casa:open-sidebar';
const EMPTY_TEXT = 'No clusters yet. Press + NEW to start one';
/**
 * The cluster list under the server's base_url (see playwright.config.js);
 * ServerConnection appends a cache-busting query string.
 */
const CLUSTERS_URL = /\/user\/alice\/coffea-casa\/clusters(\?.*)?$/;

const GiB = 2 ** 30;
const CLUSTERS = [
  {
    id: 'a1b2c3',
    name: 'dimuon-analysis',
    status: 'running',
    backend: 'htcondor',
    scheduler_address: 'tls://coffea-casa-alice.example:8786',
    dashboard_url: 'coffea-casa/dashboard/a1b2c3/status',
    workers: 3,
    cores: 12,
    memory_bytes: 24 * GiB,
    adapt: { minimum: 1, maximum: 10 },
    requested_workers: 3
  },
  {
    id: 'd4e5f6',
    name: 'local-test',
    status: 'starting',
    backend: 'local',
    scheduler_address: 'tls://127.0.0.1:38021',
    dashboard_url: 'coffea-casa/dashboard/d4e5f6/status',
    workers: 1,
    cores: 2,
    memory_bytes: 3.5 * GiB,
    requested_workers: 2
  },
  {
    id: '0f0f0f',
    name: 'broken',
    status: 'failed',
    error: 'condor_submit: no schedd found',
    backend: 'htcondor',
    scheduler_address: '',
    dashboard_url: '',
    workers: 0,
    cores: 0,
    memory_bytes: 0,
    requested_workers: 4
  }
];

function json(body: unknown, status = 200) {
  return (route: Route) =>
    route.fulfill({
      status,
      contentType: 'application/json',
      body: JSON.stringify(body)
    });
}

async function openSidebar(page: IJupyterLabPageFixture) {
  await page.sidebar.openTab(SIDEBAR_ID);
  const panel = page.locator(`#${SIDEBAR_ID}`);
  await expect(panel).toBeVisible();
  return panel;
}

test.describe('coffea-casa sidebar', () => {
  test('lab loads under the hub-style base_url, with our sidebar tab', async ({
    page
  }) => {
    expect(page.url()).toContain('/user/alice/lab');
    const baseUrl = await page.evaluate(
      () => (window as any).jupyterapp.serviceManager.serverSettings.baseUrl
    );
    expect(baseUrl).toBe('http://localhost:8888/user/alice/');

    const tab = page.sidebar.getTabLocator(SIDEBAR_ID);
    await expect(tab).toHaveCount(1);
    await expect(
      page.locator(`#jp-left-stack, .jp-SideBar.jp-mod-left`).first()
    ).toBeAttached();
    await expect(
      page.locator(`.jp-SideBar.jp-mod-left [data-id="${SIDEBAR_ID}"]`)
    ).toBeVisible();
    await expect(tab).toHaveAttribute('title', 'Dask clusters (coffea-casa)');
    await expect(
      tab.locator('svg[data-icon="coffea-casa-lab:logo"]')
    ).toBeVisible();
  });

  test('shows the empty state when there are no clusters', async ({ page }) => {
    await page.route(CLUSTERS_URL, json([]));
    const panel = await openSidebar(page);
    await expect(
      panel.getByRole('heading', { name: 'Dask clusters' })
    ).toBeVisible();
    await expect(panel.getByText(EMPTY_TEXT)).toBeVisible();
    await expect(panel.getByRole('button', { name: '+ NEW' })).toBeVisible();
    await expect(panel.getByRole('alert')).toHaveCount(0);
  });

  test('shows a card per cluster', async ({ page }, testInfo) => {
    await page.route(CLUSTERS_URL, json(CLUSTERS));
    const panel = await openSidebar(page);
    const cards = panel.locator('.jp-CoffeaCasa-card');
    await expect(cards).toHaveCount(3);

    const first = cards.nth(0);
    await expect(first).toContainText('dimuon-analysis');
    await expect(first).toContainText('running');
    await expect(first).toContainText('HTCondor');
    await expect(first).toContainText('tls://coffea-casa-alice.example:8786');
    await expect(first.locator('.jp-CoffeaCasa-workers')).toHaveText('3');
    await expect(first.locator('.jp-CoffeaCasa-adapt')).toHaveText(
      '1 – 10 workers'
    );
    await expect(first).toContainText('12');
    await expect(first).toContainText('24.0 GiB');
    await expect(cards.nth(1)).toContainText('1 of 2 requested');
    await expect(
      cards.nth(1).getByRole('progressbar', { name: 'Starting the scheduler' })
    ).toBeVisible();
    await expect(cards.nth(1)).toContainText('3.5 GiB');
    await expect(cards.nth(2)).toContainText('condor_submit: no schedd found');
    await expect(panel.getByText(EMPTY_TEXT)).toHaveCount(0);

    for (const theme of ['light', 'dark']) {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      }
      const shot = testInfo.outputPath(`coffea-casa-sidebar-${theme}.png`);
      await page.screenshot({ path: shot });
      await testInfo.attach(`sidebar (${theme})`, {
        path: shot,
        contentType: 'image/png'
      });
    }
  });

  test('shows an API failure and recovers on retry', async ({ page }) => {
    let answer = json({ message: 'Not Found', reason: null }, 404);
    await page.route(CLUSTERS_URL, route => answer(route));
    const panel = await openSidebar(page);
    const alert = panel.getByRole('alert');
    await expect(alert).toContainText(
      'coffea-casa server extension did not answer'
    );
    await expect(alert).toContainText('404');

    answer = json([]);
    await alert.getByRole('button', { name: 'Retry' }).click();
    await expect(panel.getByText(EMPTY_TEXT)).toBeVisible();
    await expect(panel.getByRole('alert')).toHaveCount(0);
  });

  test('has a palette command that opens the sidebar', async ({ page }) => {
    const hasCommand = await page.evaluate(
      id => (window as any).jupyterapp.commands.hasCommand(id),
      OPEN_COMMAND
    );
    expect(hasCommand).toBe(true);

    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute(
        'apputils:activate-command-palette'
      )
    );
    await page.locator('.lm-CommandPalette-input').fill('Show Dask Clusters');
    const item = page.locator(
      `.lm-CommandPalette-item[data-command="${OPEN_COMMAND}"]`
    );
    await expect(item).toBeVisible();
    await expect(page.locator('.lm-CommandPalette-header')).toContainText(
      'coffea-casa'
    );
    // Every action is a command in the palette, category coffea-casa.
    await page.locator('.lm-CommandPalette-input').fill('coffea-casa');
    const commands = await page
      .locator('.lm-CommandPalette-item[data-command^="coffea-casa:"]')
      .evaluateAll(nodes => nodes.map(n => n.getAttribute('data-command')));
    for (const id of [
      'coffea-casa:new-cluster',
      'coffea-casa:scale-cluster',
      'coffea-casa:shutdown-cluster',
      'coffea-casa:inject-client-code',
      'coffea-casa:show-jobs',
      'coffea-casa:open-dashboard',
      'coffea-casa:refresh'
    ]) {
      expect(commands).toContain(id);
    }
    await page.locator('.lm-CommandPalette-input').fill('Show Dask Clusters');
    await item.click();
    await expect(page.locator(`#${SIDEBAR_ID}`)).toBeVisible();
  });
});
