/**
 * Dashboard buttons (one per plot of individual-plots.json, through our
 * proxy) and live bokeh panes, which keep working after scaling.
 */
import { expect, test } from './fixtures';
import {
  API,
  openSidebar,
  screenshot,
  shutdownAll,
  startCluster
} from './helpers';

test.describe('dashboard', () => {
  test.beforeEach(async ({ request }) => shutdownAll(request));
  test.afterEach(async ({ request }) => shutdownAll(request));

  test('a dashboard button opens a live plot pane', async ({
    page,
    request
  }, testInfo) => {
    test.setTimeout(120000);
    const cluster = await startCluster(request, 1);
    const panel = await openSidebar(page);

    const section = panel.getByRole('region', { name: 'Dask dashboard' });
    await expect(section).toHaveClass(/jp-mod-active/, { timeout: 30000 });
    const button = section.getByRole('button', {
      name: 'Task Stream',
      exact: true
    });
    await expect(button).toBeEnabled();
    await expect(
      section.getByRole('button', { name: 'Progress', exact: true })
    ).toBeEnabled();
    await button.click();

    const pane = page.locator('.jp-CoffeaCasa-dashboardWidget');
    await expect(pane).toBeVisible();
    await expect(page.getByRole('tab', { name: 'Task Stream' })).toBeVisible();
    const iframe = pane.locator('iframe');
    await expect(iframe).toHaveAttribute(
      'src',
      new RegExp(
        `/user/alice/coffea-casa/dashboard/${cluster.id}/individual-task-stream$`
      )
    );
    const frame = page.frameLocator('.jp-CoffeaCasa-dashboardPane iframe');
    await expect(frame.locator('canvas').first()).toBeVisible({
      timeout: 30000
    });

    // A workers pane follows the cluster when it scales.
    await section.getByRole('button', { name: 'Workers', exact: true }).click();
    const workers = page.frameLocator(
      `.jp-CoffeaCasa-dashboardWidget:visible iframe`
    );
    await expect(workers.locator('.slick-row').first()).toBeVisible({
      timeout: 30000
    });
    const rows = await workers.locator('.slick-row').count();
    const scaled = await request.patch(`${API}/clusters/${cluster.id}`, {
      data: { workers: 2 }
    });
    expect(scaled.ok()).toBe(true);
    await expect
      .poll(() => workers.locator('.slick-row').count(), { timeout: 60000 })
      .toBeGreaterThan(rows);
    await screenshot(page, testInfo, 'dashboard-panes');

    // Its cluster shut down: the pane says so, instead of bokeh's reconnect banner.
    const closed = await request.delete(`${API}/clusters/${cluster.id}`);
    expect(closed.ok()).toBe(true);
    await expect(
      workers.getByText('This cluster is no longer running')
    ).toBeVisible({ timeout: 30000 });
  });

  test('the buttons are grey when the dashboard does not answer', async ({
    page
  }) => {
    await page.route(/\/coffea-casa\/clusters(\?.*)?$/, route =>
      route.fulfill({
        contentType: 'application/json',
        body: JSON.stringify([
          {
            id: 'gone',
            name: 'gone',
            status: 'running',
            backend: 'local',
            scheduler_address: 'tls://127.0.0.2:1',
            dashboard_url: 'coffea-casa/dashboard/gone/',
            workers: 0,
            cores: 0,
            memory_bytes: 0,
            requested_workers: 0
          }
        ])
      })
    );
    const panel = await openSidebar(page);
    const section = panel.getByRole('region', { name: 'Dask dashboard' });
    await expect(section).toContainText('gone');
    await expect(section).not.toHaveClass(/jp-mod-active/);
    await expect(section).toContainText('does not answer');
    await expect(
      section.getByRole('button', { name: 'Task Stream', exact: true })
    ).toBeDisabled();
    await expect(section.locator('button:enabled')).toHaveCount(0);
  });
});
