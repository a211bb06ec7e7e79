/**
 * A sidebar cluster outlives a crashed Jupyter server (issue 8): kill -9 the
 * server, start it again, and the same card comes back, running, with a live
 * dashboard pane. This spec runs its own server (port 8890, its own runtime
 * dir) so that it can kill it.
 */
import { expect, test } from './fixtures';
import {
  card,
  isAlive,
  listClusters,
  openSidebar,
  screenshot
} from './helpers';
import { OwnServer } from './own-server';

// a cluster left behind by a failed run closes itself soon
const server = new OwnServer(8890, { DASK_COFFEA_CASA__ORPHAN_TIMEOUT: '60' });
const ORIGIN = server.origin;
const API = server.api;
const hosts: number[] = []; // the clusters' host processes, for the clean-up
const startServer = () => server.start();
const stopServer = (signal: NodeJS.Signals) => server.stop(signal);

test.describe('a crashed server finds its clusters again', () => {
  test.use({ baseURL: ORIGIN });
  test.beforeAll(startServer);
  test.afterAll(async () => {
    try {
      // A graceful stop closes the clusters the server owns; a host nobody adopted is stopped too.
      await stopServer('SIGTERM');
      hosts.filter(isAlive).forEach(pid => process.kill(pid, 'SIGTERM'));
      await expect
        .poll(() => hosts.filter(isAlive), { timeout: 60000 })
        .toEqual([]);
    } finally {
      server.removeRuntimeDir();
    }
  });

  test('kill -9 the server, start it again: the same card, running, live dashboard', async ({
    page,
    request
  }, testInfo) => {
    test.setTimeout(240000);
    const panel = await openSidebar(page);
    await panel.getByRole('button', { name: '+ NEW' }).click();
    const first = panel.locator('.jp-CoffeaCasa-card').first();
    await expect(first.locator('.jp-CoffeaCasa-workers')).toHaveText('1', {
      timeout: 90000
    });
    const [before] = await listClusters(request, API);
    const model = await (
      await request.get(`${API}/clusters/${before.id}`)
    ).json();

    // Leave the lab first: galata proxies its polls, which would fail while no server runs.
    await page.evaluate(() => window.location.assign('about:blank'));
    await page.waitForURL('about:blank');
    await stopServer('SIGKILL');
    expect(isAlive(model.pid)).toBe(true); // the cluster's host lives on
    await startServer();

    await page.goto();
    const again = await openSidebar(page);
    const item = card(again, before.id);
    await expect(item.locator('.jp-CoffeaCasa-status')).toHaveText('running', {
      timeout: 10000
    });
    await expect(item.locator('.jp-CoffeaCasa-cardName')).toHaveText(
      before.name
    );
    await expect(item.locator('.jp-CoffeaCasa-workers')).toHaveText('1');
    const [after] = await listClusters(request, API);
    expect(after.id).toBe(before.id);
    expect((after as unknown as { dashboard_url: string }).dashboard_url).toBe(
      model.dashboard_url
    );

    const section = again.getByRole('region', { name: 'Dask dashboard' });
    await expect(section).toHaveClass(/jp-mod-active/, { timeout: 30000 });
    await section
      .getByRole('button', { name: 'Task Stream', exact: true })
      .click();
    const frame = page.frameLocator('.jp-CoffeaCasa-dashboardPane iframe');
    await expect(frame.locator('canvas').first()).toBeVisible({
      timeout: 30000
    });
    await screenshot(page, testInfo, 'restarted-server-same-card');

    // Shut down from the new server: the host goes too.
    await request.delete(`${API}/clusters/${before.id}`);
    await expect.poll(() => isAlive(model.pid), { timeout: 60000 }).toBe(false);
  });
});
