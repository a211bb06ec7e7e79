/**
 * An idle cluster gives back its workers (coffea-casa.idle-timeout), and the
 * card says why; scaling it from the sidebar brings a worker back.
 */
import { expect, test } from './fixtures';
import {
  closeNotebook,
  openSidebar,
  runCell,
  screenshot,
  shutdownAll
} from './helpers';

test.beforeEach(async ({ request }) => shutdownAll(request));
test.afterEach(async ({ page, request }) => {
  await closeNotebook(page);
  await shutdownAll(request);
});

test('an idle cluster shows why it has no workers', async ({
  page
}, testInfo) => {
  test.setTimeout(180000);
  await page.notebook.createNew();
  await runCell(
    page,
    0,
    [
      'import dask',
      'from coffea_casa import CoffeaCasaCluster',
      "dask.config.set({'coffea-casa.idle-timeout': 5})",
      "cluster = CoffeaCasaCluster(name='idle study')",
      'cluster.scale(1)',
      "print('made', cluster.backend)"
    ].join('\n'),
    'made'
  );
  const panel = await openSidebar(page);
  const item = panel.locator('.jp-CoffeaCasa-card', { hasText: 'idle study' });
  const note = item.locator('.jp-CoffeaCasa-cardNote');
  await expect(note).toContainText('scaled from 1 to 0 workers', {
    timeout: 60000
  });
  await expect(item.locator('.jp-CoffeaCasa-workers')).toHaveText('0');
  await screenshot(page, testInfo, 'idle-card');

  await item.getByRole('button', { name: 'Scale' }).click();
  const dialog = page.locator('.jp-Dialog');
  await dialog.getByLabel('Workers').fill('1');
  await dialog.locator('.jp-Dialog-button.jp-mod-accept').click();
  // The request shows at once (the worker may come, and go again after 5 idle seconds).
  await expect(note).toHaveCount(0, { timeout: 10000 });
  await expect(item.locator('.jp-CoffeaCasa-workers')).toHaveText(
    /^(1|0 of 1 requested)$/
  );
});
