/**
 * The batch jobs of a cluster (local backend: the worker processes): list,
 * logs, kill (with confirmation: the job stays, among those that ended), and
 * replacement under adapt.
 */
import { expect, test } from './fixtures';
import {
  apiOf,
  card,
  openSidebar,
  screenshot,
  shutdownAll,
  startCluster
} from './helpers';

const BACKENDS = [
  { backend: 'local', origin: 'http://localhost:8888', host: /127\.0\.0\.2/ },
  // The HTCondor test double's server (see playwright.config.js).
  { backend: 'htcondor', origin: 'http://localhost:8889', host: /\S/ }
];

for (const { backend, origin, host } of BACKENDS) {
  test.describe(`batch jobs (${backend})`, () => {
    const API = apiOf(origin);
    test.use({ baseURL: origin });
    test.beforeEach(async ({ request }) => shutdownAll(request, API));
    test.afterEach(async ({ request }) => shutdownAll(request, API));

    test('jobs list the workers; logs open; kill removes one, adapt replaces it', async ({
      page,
      request
    }, testInfo) => {
      test.setTimeout(180000);
      const cluster = await startCluster(request, 2, API);
      const panel = await openSidebar(page);
      await card(panel, cluster.id)
        .getByRole('button', { name: 'Jobs' })
        .click();

      const pane = page.locator('.jp-CoffeaCasa-jobsPanel');
      await expect(pane).toBeVisible();
      // the jobs still queued (or running); those that ended follow, marked so
      const rows = pane.locator('tbody tr[data-job-id]:not(.jp-mod-ended)');
      const ended = (id: string | null) =>
        pane.locator(`tr.jp-mod-ended[data-job-id="${id}"]`);
      await expect(rows).toHaveCount(2, { timeout: 30000 });
      await expect(rows.first()).toContainText('running', { timeout: 30000 });
      await expect(rows.first().locator('td').nth(3)).toHaveText(host);
      await expect(
        rows.first().locator('.jp-CoffeaCasa-jobStory')
      ).toContainText('running since');
      await expect(
        rows.first().locator('.jp-CoffeaCasa-jobWorker')
      ).not.toHaveText('—');
      await screenshot(page, testInfo, `jobs-pane-${backend}`);

      // Logs: stdout and stderr in a lab tab.
      const firstId = await rows.first().getAttribute('data-job-id');
      await rows.first().getByRole('button', { name: 'Logs' }).click();
      const logs = page.locator('.jp-CoffeaCasa-jobLogs:visible');
      await expect(
        page.getByRole('tab', { name: `Job ${firstId} logs` })
      ).toBeVisible();
      await expect(logs.getByRole('region', { name: 'stdout' })).toBeVisible();
      await expect(logs.getByRole('region', { name: 'stderr' })).toBeVisible();
      await expect(logs.locator('.jp-CoffeaCasa-log').nth(1)).not.toHaveText(
        '(empty)',
        { timeout: 30000 }
      );
      await screenshot(page, testInfo, `job-logs-${backend}`);
      await page.getByRole('tab', { name: `Jobs: ${cluster.name}` }).click();

      // Kill asks first; then the job is gone.
      const victim = rows.first();
      const victimId = await victim.getAttribute('data-job-id');
      await victim.getByRole('button', { name: 'Kill' }).click();
      const dialog = page.locator('.jp-Dialog');
      await expect(dialog).toContainText(`Kill job ${victimId}?`);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await expect(rows).toHaveCount(2);
      await victim.getByRole('button', { name: 'Kill' }).click();
      await page
        .locator('.jp-Dialog')
        .getByRole('button', { name: 'Kill' })
        .click();
      await expect(ended(victimId)).toContainText(
        'removed by the cluster: killed from the jobs pane',
        { timeout: 30000 }
      );
      await expect(rows).toHaveCount(1);
      await expect(
        ended(victimId).getByRole('button', { name: 'Kill' })
      ).toHaveCount(0);

      // With adapt (minimum 2), a killed job is replaced.
      const adapted = await request.patch(`${API}/clusters/${cluster.id}`, {
        data: { adapt: { minimum: 2, maximum: 2 } }
      });
      expect(adapted.ok()).toBe(true);
      await expect(rows).toHaveCount(2, { timeout: 60000 });
      const before = await rows.evaluateAll(r =>
        r.map(row => row.getAttribute('data-job-id'))
      );
      await rows.first().getByRole('button', { name: 'Kill' }).click();
      await page
        .locator('.jp-Dialog')
        .getByRole('button', { name: 'Kill' })
        .click();
      await expect(ended(before[0])).toHaveCount(1, { timeout: 30000 });
      await expect
        .poll(
          () =>
            rows.evaluateAll(r =>
              r.map(row => row.getAttribute('data-job-id'))
            ),
          { timeout: 60000 }
        )
        .toEqual(expect.arrayContaining([before[1]]));
      await expect(rows).toHaveCount(2, { timeout: 60000 });
      const after = await rows.evaluateAll(r =>
        r.map(row => row.getAttribute('data-job-id'))
      );
      expect(after).not.toContain(before[0]);
    });
  });
}
