/**
 * Clusters from everywhere (issue 8), on the real server and local backend:
 * a notebook's cluster gets a card naming its notebook, the sidebar scales it
 * and the kernel sees the workers; killing the kernel removes the card and the
 * workers; a script's cluster has its badge; a cluster whose process died
 * shows why and can be dismissed.
 */
import { expect, test } from './fixtures';
import {
  API,
  apiOf,
  card,
  closeNotebook,
  isAlive,
  listClusters,
  openSidebar,
  runCell,
  ORIGIN,
  screenshot,
  shutdownAll,
  startCluster
} from './helpers';

const BACKENDS = [
  { backend: 'local', origin: ORIGIN },
  // The HTCondor test double's server (see playwright.config.js).
  { backend: 'htcondor', origin: 'http://localhost:8889' }
];

for (const { backend, origin } of BACKENDS) {
  test.describe(`a notebook's cluster (${backend})`, () => {
    const api = apiOf(origin);
    test.use({ baseURL: origin });
    test.beforeEach(async ({ request }) => shutdownAll(request, api));
    test.afterEach(async ({ page, request }) => {
      await closeNotebook(page);
      await shutdownAll(request, api);
    });

    test('its card, scaled from the sidebar, gone with its kernel', async ({
      page,
      request,
      tmpPath
    }, testInfo) => {
      test.setTimeout(300000);
      // (galata's createNew(name) renames the file behind the session's back: keep its name)
      const notebook = (await page.notebook.createNew())!;
      const printed = await runCell(
        page,
        0,
        [
          'import os',
          'from coffea_casa import CoffeaCasaCluster',
          'from distributed import Client',
          "cluster = CoffeaCasaCluster(name='MET study')",
          'client = Client(cluster)',
          'print(os.getpid(), cluster.backend, cluster.dashboard_link)'
        ].join('\n'),
        '/user/alice/coffea-casa/dashboard/'
      );
      const [pid, where, link] = printed.split(/\s+/);
      expect(where).toBe(backend);

      // Its card, within a poll, names the notebook.
      const panel = await openSidebar(page);
      const item = panel.locator('.jp-CoffeaCasa-card', {
        hasText: 'MET study'
      });
      await expect(item).toBeVisible({ timeout: 10000 });
      const badge = item.locator('.jp-CoffeaCasa-badge');
      await expect(badge).toHaveText(notebook);
      await expect(badge).toHaveAttribute('title', `${tmpPath}/${notebook}`);
      await expect(item.locator('.jp-CoffeaCasa-status')).toHaveText('running');
      // The link the notebook shows opens through the server.
      const plots = await request.get(
        origin + link.replace(/\/status$/, '/individual-plots.json')
      );
      expect(plots.ok()).toBe(true);
      await screenshot(page, testInfo, `notebook-cluster-card-${backend}`);

      // Inject works for it.
      await item.click({ button: 'right' });
      await expect(
        page.getByRole('menuitem', { name: 'Inject Client Connection Code' })
      ).not.toHaveClass(/lm-mod-disabled/);
      await page.keyboard.press('Escape');

      // Scale to 2 from the sidebar: the kernel sees 2 workers.
      await item.getByRole('button', { name: 'Scale' }).click();
      const dialog = page.locator('.jp-Dialog');
      await dialog.getByLabel('Workers').fill('2');
      await dialog.locator('.jp-Dialog-button.jp-mod-accept').click();
      await expect(item.locator('.jp-CoffeaCasa-workers')).toHaveText('2', {
        timeout: 120000
      });
      const workers = await runCell(
        page,
        1,
        [
          'import psutil',
          'client.wait_for_workers(2, timeout=120)',
          "kids = [p.pid for p in psutil.Process().children() if 'resource_tracker' not in ' '.join(p.cmdline())]",
          "print(len(client.scheduler_info()['workers']), 'workers', *kids)"
        ].join('\n'),
        '2 workers'
      );
      // Local workers are the kernel's children; HTCondor ones are jobs (pytest follows those).
      const workerPids = workers.split(/\s+/).slice(2).map(Number);
      expect(workerPids.length).toBeGreaterThanOrEqual(
        backend === 'local' ? 2 : 0
      );

      // Kill -9 the kernel: the card goes within a poll, and its workers die.
      process.kill(Number(pid), 'SIGKILL');
      await expect(item).toHaveCount(0, { timeout: 10000 });
      await expect
        .poll(() => workerPids.filter(isAlive).length, { timeout: 30000 })
        .toBe(0);
    });
  });
}

test.describe('clusters from everywhere', () => {
  test.beforeEach(async ({ request }) => shutdownAll(request));
  test.afterEach(async ({ page, request }) => {
    await closeNotebook(page);
    await shutdownAll(request);
  });

  test("a script's cluster has its badge; when its process dies the card says why and is dismissed", async ({
    page,
    request
  }, testInfo) => {
    test.setTimeout(180000);
    await page.notebook.createNew();
    const printed = await runCell(
      page,
      0,
      [
        'import subprocess, sys, pathlib',
        "pathlib.Path('skim.py').write_text('from coffea_casa import CoffeaCasaCluster\\n'",
        '    \'import time\\nif __name__ == "__main__":\\n    c = CoffeaCasaCluster()\\n    time.sleep(120)\\n\')',
        "script = subprocess.Popen([sys.executable, 'skim.py', '--year', '2018'])",
        'print(script.pid)'
      ].join('\n'),
      /^\d+/
    );
    const pid = Number(printed.split(/\s+/)[0]);

    const panel = await openSidebar(page);
    const item = panel.locator('.jp-CoffeaCasa-card', {
      has: page.locator('.jp-CoffeaCasa-badge', { hasText: 'script' })
    });
    await expect(item).toBeVisible({ timeout: 60000 });
    await expect(item.locator('.jp-CoffeaCasa-badge')).toHaveAttribute(
      'title',
      /skim\.py --year 2018$/
    );
    const [cluster] = await listClusters(request);
    expect(cluster.status).toBe('running');

    process.kill(pid, 'SIGKILL');
    await expect(item.locator('.jp-CoffeaCasa-status')).toHaveText('lost', {
      timeout: 10000
    });
    await expect(item).toContainText('without closing the cluster');
    await expect(item.getByRole('button', { name: 'Shutdown' })).toHaveCount(0);
    await expect(item.getByRole('button', { name: 'Scale' })).toBeDisabled();
    await screenshot(page, testInfo, 'lost-script-cluster');

    await item.getByRole('button', { name: 'Dismiss' }).click();
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    await expect(item).toHaveCount(0);
    expect(await listClusters(request)).toEqual([]);
  });

  test('a sidebar cluster whose host process is killed shows it and is dismissed', async ({
    page,
    request
  }) => {
    test.setTimeout(120000);
    const cluster = await startCluster(request, 1);
    const panel = await openSidebar(page);
    const item = card(panel, cluster.id);
    await expect(item.locator('.jp-CoffeaCasa-badge')).toHaveCount(0);
    const model = await (
      await request.get(`${API}/clusters/${cluster.id}`)
    ).json();
    process.kill(model.pid, 'SIGKILL');
    await expect(item.locator('.jp-CoffeaCasa-status')).toHaveText('lost', {
      timeout: 10000
    });
    await expect(item).toContainText('killed by SIGKILL');
    await item.getByRole('button', { name: 'Dismiss' }).click();
    await expect(item).toHaveCount(0);
  });
});
