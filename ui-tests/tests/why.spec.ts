/**
 * "Why don't I have workers?" On the HTCondor test double's server (8889):
 * the card says in one line why its jobs wait (the pool's analysis), Diagnose
 * shows all of it, and a job that ended stays in the jobs pane with its log.
 * On the local backend (8888): a notebook's cluster whose workers have another
 * awkward than its kernel warns, and offers to install the kernel's. Light
 * and dark.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { expect, test } from './fixtures';
import {
  apiOf,
  closeNotebook,
  openSidebar,
  card,
  ORIGIN as LOCAL,
  runCell,
  screenshotBothThemes,
  shutdownAll
} from './helpers';

const ORIGIN = 'http://localhost:8889';
const API = apiOf(ORIGIN);
const WHY = 'no machine matches: request_memory 1 GiB, largest slot 512 MiB';

/** The size of the double's one slot, in MiB (null: its default, 32 GiB). */
function slotMemory(mib: number | null): void {
  const file = path.join(process.env.CONDOR_DOUBLE_STATE!, 'slot_memory');
  if (mib === null) {
    fs.rmSync(file, { force: true });
  } else {
    fs.writeFileSync(file, String(mib));
  }
}

test.describe('why no workers (htcondor)', () => {
  test.use({ baseURL: ORIGIN });
  test.beforeEach(async ({ request }) => shutdownAll(request, API));
  test.afterEach(async ({ request }) => {
    slotMemory(null);
    await shutdownAll(request, API);
  });

  test('the card says why jobs wait, Diagnose shows the analysis, an ended job keeps its log', async ({
    page,
    request
  }, testInfo) => {
    test.setTimeout(240000);
    // the pool's one slot is smaller than a worker job (1 GiB): the job waits
    slotMemory(512);
    const started = await request.put(`${API}/clusters`, {
      data: { workers: 1 }
    });
    expect(started.status()).toBe(201);
    const { id } = await started.json();
    const panel = await openSidebar(page);
    const theCard = card(panel, id);
    const line = theCard.locator('.jp-CoffeaCasa-idleReason');
    await expect(line).toContainText(WHY, { timeout: 60000 });
    await expect(line).toContainText('1 job waiting for');
    await screenshotBothThemes(page, testInfo, 'card-idle-reason', line);

    // Diagnose: the pool's whole analysis in a tab
    await line.getByRole('button', { name: 'Diagnose' }).click();
    const analysis = page.locator('.jp-CoffeaCasa-jobAnalysis:visible');
    await expect(
      analysis.locator('.jp-CoffeaCasa-analysisSummary')
    ).toContainText(WHY, { timeout: 60000 });
    await expect(analysis.locator('.jp-CoffeaCasa-log')).toContainText(
      'TARGET.Memory >= RequestMemory'
    );
    await expect(analysis.locator('.jp-CoffeaCasa-log')).toContainText(
      '1 are rejected by your job'
    );
    await screenshotBothThemes(page, testInfo, 'diagnose', analysis);

    // a slot big enough: the next negotiation runs the job, and the line goes
    slotMemory(null);
    await expect(theCard.locator('.jp-CoffeaCasa-workers')).toHaveText('1', {
      timeout: 60000
    });
    await expect(line).toHaveCount(0, { timeout: 30000 });

    // a job that ended stays in the jobs pane, and its log stays readable
    await theCard.getByRole('button', { name: 'Jobs' }).click();
    const pane = page.locator('.jp-CoffeaCasa-jobsPanel');
    const row = pane.locator('tbody tr[data-job-id]').first();
    await expect(row).toContainText('running', { timeout: 30000 });
    await expect(row.locator('.jp-CoffeaCasa-jobStory')).toContainText(
      'submitted'
    );
    const jobId = await row.getAttribute('data-job-id');
    await row.getByRole('button', { name: 'Kill' }).click();
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Kill' })
      .click();
    const ended = pane.locator(`tr.jp-mod-ended[data-job-id="${jobId}"]`);
    await expect(ended).toContainText(
      'removed by the cluster: killed from the jobs pane',
      { timeout: 30000 }
    );
    await expect(ended.locator('.jp-CoffeaCasa-jobStory')).toContainText(
      'ended'
    );
    await expect(pane.locator('.jp-CoffeaCasa-jobsDivider')).toBeVisible();
    await screenshotBothThemes(page, testInfo, 'jobs-pane-ended', ended);
    await ended.getByRole('button', { name: 'Logs' }).click();
    const logs = page.locator('.jp-CoffeaCasa-jobLogs:visible');
    await expect(logs.locator('.jp-CoffeaCasa-logSource')).toContainText(
      'HTCondor returns no output files for a removed job'
    );
    await expect(logs.locator('.jp-CoffeaCasa-log').nth(1)).toContainText(
      'Registered to',
      { timeout: 30000 }
    );
    await screenshotBothThemes(page, testInfo, 'ended-job-log', logs);
  });
});

test.describe('packages that differ (local, a notebook cluster)', () => {
  const LOCAL_API = apiOf(LOCAL);
  test.use({ baseURL: LOCAL });
  test.beforeEach(async ({ request }) => shutdownAll(request, LOCAL_API));
  test.afterEach(async ({ page, request }) => {
    await closeNotebook(page);
    await shutdownAll(request, LOCAL_API);
  });

  test('the card warns with the versions and offers to install the kernel’s', async ({
    page
  }, testInfo) => {
    test.setTimeout(240000);
    // what a worker image with another awkward looks like to importlib.metadata
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'other-awkward-'));
    fs.mkdirSync(path.join(dir, 'fake', 'awkward-0.0.1.dist-info'), {
      recursive: true
    });
    fs.writeFileSync(
      path.join(dir, 'fake', 'awkward-0.0.1.dist-info', 'METADATA'),
      'Name: awkward\nVersion: 0.0.1\n'
    );
    const preload = path.join(dir, 'other_awkward.py');
    fs.writeFileSync(
      preload,
      `import sys\nsys.path.insert(0, ${JSON.stringify(path.join(dir, 'fake'))})\n`
    );
    await page.notebook.createNew();
    const kernelAwkward = await runCell(
      page,
      0,
      [
        'import dask',
        'from importlib.metadata import version',
        'from coffea_casa import CoffeaCasaCluster',
        'from distributed import Client',
        `dask.config.set({"distributed.worker.preload": [${JSON.stringify(preload)}]})`,
        "cluster = CoffeaCasaCluster(name='versions')",
        'cluster.scale(1)',
        'client = Client(cluster)',
        'client.wait_for_workers(1)',
        "print('awkward', version('awkward'))"
      ].join('\n'),
      'awkward '
    );
    const kernelVersion = kernelAwkward.split(/\s+/)[1];
    const panel = await openSidebar(page);
    const item = panel.locator('.jp-CoffeaCasa-card', { hasText: 'versions' });
    const warning = item.locator('.jp-CoffeaCasa-envWarning');
    await expect(warning.locator('li[data-package="awkward"]')).toHaveText(
      `awkward: kernel ${kernelVersion} · workers 0.0.1 (1)`,
      { timeout: 30000 }
    );
    await expect(warning).toContainText('~/requirements.txt');
    await screenshotBothThemes(page, testInfo, 'card-packages-differ', warning);
    // the chapter-2 remedy, filled in with the kernel's version
    await warning
      .getByRole('button', { name: 'Install packages on workers…' })
      .click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('textarea')).toHaveValue(
      `awkward==${kernelVersion}`
    );
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
