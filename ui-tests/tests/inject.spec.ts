/**
 * Client connection code: right-click → Inject, and drag-and-drop of a
 * cluster card into a notebook. The inserted code must really connect (TLS).
 */
import { expect, test } from './fixtures';
import {
  card,
  ICluster,
  openSidebar,
  screenshot,
  shutdownAll,
  startCluster
} from './helpers';

function expectedCode(cluster: ICluster): string {
  return (
    `client = Client("${cluster.scheduler_address}", ` +
    'security=CoffeaCasaCluster.security())'
  );
}

test.describe('client connection code', () => {
  test.beforeEach(async ({ request }) => shutdownAll(request));
  test.afterEach(async ({ page, request }) => {
    await page.notebook.close(true).catch(() => undefined);
    await shutdownAll(request);
  });

  test('right-click → Inject inserts code that connects', async ({
    page,
    request
  }, testInfo) => {
    test.setTimeout(120000);
    const cluster = await startCluster(request, 1);
    expect(cluster.scheduler_address).toMatch(/^tls:\/\/127\.0\.0\.2:\d+$/);
    await page.notebook.createNew();
    const panel = await openSidebar(page);

    await card(panel, cluster.id).click({ button: 'right' });
    const item = page.getByRole('menuitem', {
      name: 'Inject Client Connection Code'
    });
    await expect(item).toBeVisible();
    await screenshot(page, testInfo, 'inject-context-menu');
    await item.click();

    await expect
      .poll(() => page.notebook.getCellTextInput(0))
      .toContain(expectedCode(cluster));
    expect(await page.notebook.getCellTextInput(0)).toContain(
      'from coffea_casa import CoffeaCasaCluster'
    );

    await page.notebook.runCell(0);
    const output = await page.notebook.getCellOutputLocator(0);
    await expect(output!).toContainText(cluster.scheduler_address, {
      timeout: 60000
    });
    await expect(output!).toContainText('Client');
    await expect(output!.locator('[data-mime-type*="error"]')).toHaveCount(0);
    await screenshot(page, testInfo, 'inject-connected-client');
  });

  test('dragging a card into a notebook inserts a cell at the drop point', async ({
    page,
    request
  }, testInfo) => {
    test.setTimeout(120000);
    const cluster = await startCluster(request, 1);
    await page.notebook.createNew();
    await page.notebook.setCell(0, 'code', 'a = 1');
    await page.notebook.addCell('code', 'b = 2');
    const panel = await openSidebar(page);

    const source = card(panel, cluster.id).locator('.jp-CoffeaCasa-cardName');
    const target = (await page.notebook.getCellLocator(1))!;
    await source.scrollIntoViewIfNeeded();
    await target.scrollIntoViewIfNeeded();
    await source.scrollIntoViewIfNeeded();
    const from = (await source.boundingBox())!;
    const to = (await target.boundingBox())!;
    await page.mouse.move(from.x + 10, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(from.x + 30, from.y + from.height / 2 + 10, {
      steps: 5
    });
    await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, {
      steps: 10
    });
    await page.mouse.up();

    // Dropped on the second cell: the new cell takes its place.
    await expect(page.locator('.jp-Notebook .jp-Cell')).toHaveCount(3);
    expect(await page.notebook.getCellTextInput(0)).toBe('a = 1');
    expect(await page.notebook.getCellTextInput(1)).toContain(
      expectedCode(cluster)
    );
    expect(await page.notebook.getCellTextInput(2)).toBe('b = 2');

    await page.notebook.runCell(1);
    const output = await page.notebook.getCellOutputLocator(1);
    await expect(output!).toContainText(cluster.scheduler_address, {
      timeout: 60000
    });
    await expect(output!.locator('[data-mime-type*="error"]')).toHaveCount(0);
    await screenshot(page, testInfo, 'drag-connected-client');
  });
});
