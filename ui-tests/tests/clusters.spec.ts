/**
 * Cluster actions against the real server on the embedded local backend:
 * + NEW, scale, adaptive, shutdown. Every test leaves no cluster behind.
 */
import { expect, test } from './fixtures';
import {
  API,
  card,
  isAlive,
  listClusters,
  openSidebar,
  screenshot,
  shutdownAll,
  SIDEBAR_ID,
  startCluster
} from './helpers';

test.describe('cluster actions (local backend)', () => {
  test.beforeEach(async ({ request }) => shutdownAll(request));
  test.afterEach(async ({ request }) => shutdownAll(request));

  test('+ NEW starts a cluster that reaches running with a worker', async ({
    page,
    request
  }, testInfo) => {
    const panel = await openSidebar(page);
    await expect(panel.locator('.jp-CoffeaCasa-empty')).toBeVisible();
    await panel.getByRole('button', { name: '+ NEW' }).click();

    const cards = panel.locator('.jp-CoffeaCasa-card');
    await expect(cards).toHaveCount(1);
    // this site declares no cluster options: one click, no form
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    const first = cards.first();
    await expect(first.locator('.jp-CoffeaCasa-status')).toHaveText('running', {
      timeout: 60000
    });
    await expect(first.locator('.jp-CoffeaCasa-workers')).toHaveText('1', {
      timeout: 30000
    });
    await expect(first.locator('.jp-CoffeaCasa-backend')).toHaveText('local');
    await expect(first.locator('.jp-CoffeaCasa-address')).toHaveText(
      /^tls:\/\/127\.0\.0\.2:\d+$/
    );
    await expect(first.locator('.jp-CoffeaCasa-cores')).toHaveText('1');
    await expect(first.locator('.jp-CoffeaCasa-memory')).toHaveText('1.0 GiB');

    const [cluster] = await listClusters(request);
    expect(cluster.status).toBe('running');
    expect(cluster.workers).toBeGreaterThanOrEqual(1);
    await screenshot(page, testInfo, 'new-cluster-running');

    // Benchmark: from lab load (navigation start) to the panel rendered with
    // this cluster (the sidebar is restored open).
    await page.reload();
    await expect(
      page.locator(`#${SIDEBAR_ID} .jp-CoffeaCasa-card.jp-mod-running`)
    ).toBeVisible();
    const ms = Math.round(await page.evaluate(() => performance.now()));
    testInfo.annotations.push({
      type: 'lab load to panel with one cluster',
      description: `${ms} ms`
    });
    console.log(`lab load to panel with one cluster: ${ms} ms`);
  });

  test('scale to 2 workers', async ({ page, request }, testInfo) => {
    const cluster = await startCluster(request, 1);
    const panel = await openSidebar(page);
    const item = card(panel, cluster.id);
    await expect(item.locator('.jp-CoffeaCasa-workers')).toHaveText('1');

    await item.getByRole('button', { name: 'Scale' }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText(`Scale ${cluster.name}`);
    const workers = dialog.getByLabel('Workers');
    const accept = dialog.locator('.jp-Dialog-button.jp-mod-accept');
    // Input is checked: a negative count disables the Scale button.
    await workers.fill('-1');
    await expect(dialog.locator('.jp-CoffeaCasa-scaleProblem')).toContainText(
      'whole number'
    );
    await expect(accept).toBeDisabled();
    await workers.fill('2');
    await expect(accept).toBeEnabled();
    await screenshot(page, testInfo, 'scale-dialog');
    await accept.click();
    await expect(dialog).toHaveCount(0);

    await expect(item.locator('.jp-CoffeaCasa-workers')).toHaveText('2', {
      timeout: 60000
    });
    await expect
      .poll(async () => (await listClusters(request))[0].workers)
      .toBe(2);
  });

  test('adaptive scaling shows its bounds', async ({ page, request }) => {
    const cluster = await startCluster(request, 1);
    const panel = await openSidebar(page);
    const item = card(panel, cluster.id);
    await expect(item.locator('.jp-CoffeaCasa-status')).toHaveText('running');

    await item.getByRole('button', { name: 'Scale' }).click();
    const dialog = page.locator('.jp-Dialog');
    await dialog.getByLabel('Adaptive scaling').check();
    const accept = dialog.locator('.jp-Dialog-button.jp-mod-accept');
    await dialog.getByLabel('Minimum').fill('3');
    await dialog.getByLabel('Maximum').fill('2');
    await expect(dialog.locator('.jp-CoffeaCasa-scaleProblem')).toContainText(
      'must not be larger'
    );
    await expect(accept).toBeDisabled();
    await dialog.getByLabel('Minimum').fill('1');
    await dialog.getByLabel('Maximum').fill('3');
    await accept.click();

    await expect(item.locator('.jp-CoffeaCasa-adapt')).toHaveText(
      '1 – 3 workers'
    );
    const [model] = await listClusters(request);
    expect(model.adapt).toEqual({ minimum: 1, maximum: 3 });
  });

  test('shutdown asks first, then the card disappears', async ({
    page,
    request
  }, testInfo) => {
    const cluster = await startCluster(request, 1);
    // Local backend: a job id is its worker process's pid.
    const jobs = await (
      await request.get(`${API}/clusters/${cluster.id}/jobs`)
    ).json();
    const pids: number[] = jobs.map((job: { id: string }) => Number(job.id));
    expect(pids.length).toBe(1);
    expect(isAlive(pids[0])).toBe(true);
    const panel = await openSidebar(page);
    const item = card(panel, cluster.id);
    await expect(item).toBeVisible();

    await item.getByRole('button', { name: 'Shutdown' }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText(`Shut down ${cluster.name}?`);
    await screenshot(page, testInfo, 'shutdown-confirmation');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(item).toBeVisible();
    expect(await listClusters(request)).toHaveLength(1);

    await item.getByRole('button', { name: 'Shutdown' }).click();
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Shut Down' })
      .click();
    await expect(item).toHaveCount(0);
    await expect(panel.locator('.jp-CoffeaCasa-empty')).toBeVisible();
    expect(await listClusters(request)).toEqual([]);
    // No worker process remains.
    await expect
      .poll(() => pids.filter(isAlive), { timeout: 30000 })
      .toEqual([]);
  });

  test('API errors show as a notification and in the card', async ({
    page,
    request
  }) => {
    const cluster = await startCluster(request, 1);
    await page.route(/\/coffea-casa\/clusters\/[^/?]+(\?.*)?$/, route =>
      route.request().method() === 'PATCH'
        ? route.fulfill({
            status: 409,
            contentType: 'application/json',
            body: JSON.stringify({ message: 'cluster is closing' })
          })
        : route.fallback()
    );
    const panel = await openSidebar(page);
    const item = card(panel, cluster.id);
    await item.getByRole('button', { name: 'Scale' }).click();
    await page.locator('.jp-Dialog .jp-mod-accept').click();
    await expect(item.locator('.jp-CoffeaCasa-cardError')).toContainText(
      'cluster is closing'
    );
    await expect(page.locator('.jp-toast-message').first()).toContainText(
      'cluster is closing'
    );
  });
});
