/**
 * Workers the user can shape within the site's limits, and clusters kept
 * past a server stop (issue 17). This spec runs its own server (port 8891)
 * on a site that declares cluster options (`coffea-casa.options`): small
 * workers, 1-2 cores, 1-2 GiB, two images. + NEW opens a form built from
 * them; the server refuses a value outside the limits and the form says
 * why; the card shows the worker shape; the last choice is remembered; a
 * card's "Keep running" shows a kept badge and until when. (On the shared
 * servers the site declares none, and + NEW is one click: clusters.spec.ts.)
 */
import { expect, test } from './fixtures';
import {
  card,
  listClusters,
  openSidebar,
  screenshot,
  shutdownAll,
  startCluster
} from './helpers';
import { OwnServer } from './own-server';

const DOCS_IMAGE = 'coffeateam/coffea-casa-analysis:latest';
const OTHER_IMAGE = 'example/analysis:2';
const OPTIONS = [
  {
    name: 'cores',
    label: 'Worker cores',
    type: 'int',
    default: 1,
    min: 1,
    max: 2
  },
  {
    name: 'memory',
    label: 'Worker memory',
    type: 'memory',
    default: '1 GiB',
    min: '1 GiB',
    max: '2 GiB'
  },
  {
    name: 'worker_image',
    label: 'Worker image',
    type: 'select',
    default: DOCS_IMAGE,
    choices: [DOCS_IMAGE, OTHER_IMAGE]
  }
];
const server = new OwnServer(8891, {
  DASK_COFFEA_CASA__OPTIONS: JSON.stringify(OPTIONS)
});
const API = server.api;

test.describe('cluster options and kept clusters', () => {
  test.use({ baseURL: server.origin });
  test.beforeAll(() => server.start());
  test.afterAll(async () => {
    await server.stop('SIGTERM'); // closes what a failed test left
    server.removeRuntimeDir();
  });
  test.beforeEach(async ({ request }) => shutdownAll(request, API));
  test.afterEach(async ({ request }) => shutdownAll(request, API));

  test('+ NEW asks for the options, refuses a value outside the limits, and remembers the choice', async ({
    page,
    request
  }, testInfo) => {
    test.setTimeout(180000);
    const panel = await openSidebar(page);
    await panel.getByRole('button', { name: '+ NEW' }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('New Dask cluster');
    // labelled fields, the site's defaults filled in, the limits beside them
    const cores = dialog.getByLabel('Worker cores');
    const memory = dialog.getByLabel('Worker memory');
    const image = dialog.getByLabel('Worker image');
    await expect(cores).toHaveValue('1');
    await expect(memory).toHaveValue('1 GiB');
    await expect(image.locator('option:checked')).toHaveText(DOCS_IMAGE);
    await expect(dialog.locator('.jp-CoffeaCasa-optionLimits')).toHaveText([
      '1 – 2',
      '1 GiB – 2 GiB',
      '' // a select has no limits
    ]);
    await screenshot(page, testInfo, 'new-cluster-form');

    // a number outside the limits: the form will not start it, and marks the limit
    const start = dialog.getByRole('button', { name: 'Start' });
    await cores.fill('5');
    await expect(start).toBeDisabled();
    await expect(dialog.locator('input:invalid')).toHaveCount(1);
    await cores.fill('2');
    await expect(start).toBeEnabled();
    // a size outside the limits: the server refuses it, the form says why, no cluster starts
    await memory.fill('3 GiB');
    await start.click();
    const problem = page.locator('.jp-Dialog .jp-CoffeaCasa-newClusterProblem');
    await expect(problem).toContainText(
      'memory must be at most 2 GiB, not 3 GiB'
    );
    await expect(problem).toContainText('coffea-casa.options');
    await expect(
      page.locator('.jp-Dialog').getByLabel('Worker memory')
    ).toHaveValue('3 GiB');
    expect(await listClusters(request, API)).toEqual([]);
    await screenshot(page, testInfo, 'new-cluster-refused');

    // within the limits: the cluster's workers have that shape
    await expect(
      page.locator('.jp-Dialog').getByLabel('Worker cores')
    ).toHaveValue('2');
    await page.locator('.jp-Dialog').getByLabel('Worker memory').fill('1 GiB');
    await page
      .locator('.jp-Dialog')
      .getByLabel('Worker image')
      .selectOption({ label: OTHER_IMAGE });
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Start' })
      .click();
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    const item = panel.locator('.jp-CoffeaCasa-card').first();
    await expect(item.locator('.jp-CoffeaCasa-workers')).toHaveText('1', {
      timeout: 90000
    });
    await expect(item.locator('.jp-CoffeaCasa-shape')).toHaveText(
      '2 cores · 1.0 GiB'
    );
    await expect(item.locator('.jp-CoffeaCasa-image')).toHaveText(OTHER_IMAGE);
    await expect(item.locator('.jp-CoffeaCasa-cores')).toHaveText('2'); // the scheduler's count
    await screenshot(page, testInfo, 'card-worker-shape');

    // the last choice, remembered across a reload (a user setting)
    await page.reload();
    const again = await openSidebar(page);
    await again.getByRole('button', { name: '+ NEW' }).click();
    const form = page.locator('.jp-Dialog');
    await expect(form.getByLabel('Worker cores')).toHaveValue('2');
    await expect(
      form.getByLabel('Worker image').locator('option:checked')
    ).toHaveText(OTHER_IMAGE);
    await form.getByRole('button', { name: 'Cancel' }).click();
    await expect(form).toHaveCount(0);
    expect(await listClusters(request, API)).toHaveLength(1);
  });

  test('a kept cluster shows a badge and until when, in both themes', async ({
    page,
    request
  }, testInfo) => {
    test.setTimeout(180000);
    const cluster = await startCluster(request, 1, API);
    const panel = await openSidebar(page);
    const item = card(panel, cluster.id);
    await expect(item.locator('.jp-CoffeaCasa-keptBadge')).toHaveCount(0);
    const toggle = item.getByLabel('Keep running when the server stops');
    await toggle.click(); // the card's checkbox follows the server's answer
    await expect(toggle).toBeChecked();
    await expect(item.locator('.jp-CoffeaCasa-keptBadge')).toHaveText('kept');
    await expect(item.locator('.jp-CoffeaCasa-keep')).toHaveText(
      'up to 24 h after the server stops'
    );
    const model = await (
      await request.get(`${API}/clusters/${cluster.id}`)
    ).json();
    expect(model.keep).toEqual({ seconds: 86400, until: null });
    await screenshot(page, testInfo, 'card-kept-light');

    await page.theme.setDarkTheme();
    await expect(item.locator('.jp-CoffeaCasa-keptBadge')).toBeVisible();
    await screenshot(page, testInfo, 'card-kept-dark');
    await panel.getByRole('button', { name: '+ NEW' }).click();
    const dialog = page.locator('.jp-Dialog');
    await dialog.getByLabel('Worker cores').fill('5'); // out of the limits: marked
    await dialog.getByLabel('Worker memory').fill('3 GiB');
    await screenshot(page, testInfo, 'new-cluster-form-dark');
    await dialog.getByLabel('Worker cores').fill('1');
    await dialog.getByRole('button', { name: 'Start' }).click();
    await expect(
      page.locator('.jp-Dialog .jp-CoffeaCasa-newClusterProblem')
    ).toContainText('memory must be at most 2 GiB, not 3 GiB');
    await screenshot(page, testInfo, 'new-cluster-refused-dark');
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Cancel' })
      .click();
    await page.theme.setLightTheme();

    await toggle.click();
    await expect(toggle).not.toBeChecked();
    await expect(item.locator('.jp-CoffeaCasa-keptBadge')).toHaveCount(0);
    const after = await (
      await request.get(`${API}/clusters/${cluster.id}`)
    ).json();
    expect(after.keep).toBeNull();
  });
});
