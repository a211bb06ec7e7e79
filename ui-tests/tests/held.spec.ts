/**
 * Held HTCondor jobs (the test double's server on 8889): the card counts idle,
 * running and held jobs and says why they are held; the jobs pane shows each
 * reason, releases one and removes another (both after asking), and opens a
 * shell on a running job (condor_ssh_to_job in a lab terminal).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { expect, test } from './fixtures';
import {
  apiOf,
  card,
  openSidebar,
  screenshot,
  shutdownAll,
  startCluster
} from './helpers';

const ROOT = 'http://localhost:8889/user/alice/';
const API = apiOf('http://localhost:8889');
const DOUBLE_BIN = path.resolve(__dirname, '../../tests/condor_double/bin');
const MEMORY = 'Job has gone over memory limit of 1024 megabytes';
const IMAGE = 'Cannot pull image coffeateam/coffea-casa-analysis:nope';

/** What a site's policy or an admin does: condor_hold with a reason. */
function hold(job: string, reason: string): void {
  execFileSync(path.join(DOUBLE_BIN, 'condor_hold'), ['-reason', reason, job], {
    env: {
      ...process.env,
      CONDOR_DOUBLE_PYTHON: process.env.CONDOR_DOUBLE_PYTHON ?? 'python'
    }
  });
}

/** A hold reason as condor_hold words it. */
function byUser(reason: string): RegExp {
  return new RegExp(
    `^${reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(by user \\w+\\)$`
  );
}

/** Pids of (interactive) shells whose working directory is `dir`. */
function shellsIn(dir: string, interactive = true): number[] {
  return fs
    .readdirSync('/proc')
    .filter(p => /^\d+$/.test(p))
    .filter(p => {
      try {
        return (
          fs.readlinkSync(`/proc/${p}/cwd`) === dir &&
          (!interactive ||
            fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('-i'))
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

test.describe('held jobs (htcondor)', () => {
  test.use({ baseURL: 'http://localhost:8889' });
  test.beforeEach(async ({ request }) => shutdownAll(request, API));
  test.afterEach(async ({ request }) => shutdownAll(request, API));

  test('held jobs show why; one is released, one removed; a shell opens on a running one', async ({
    page,
    request
  }, testInfo) => {
    test.setTimeout(180000);
    const cluster = await startCluster(request, 3, API);
    const ids: string[] = (
      await (await request.get(`${API}/clusters/${cluster.id}/jobs`)).json()
    ).map((j: { id: string }) => j.id);
    expect(ids).toHaveLength(3);
    hold(ids[0], MEMORY);
    hold(ids[1], IMAGE);

    const panel = await openSidebar(page);
    const theCard = card(panel, cluster.id);
    await expect(theCard.locator('.jp-CoffeaCasa-queue')).toHaveText(
      '0 idle · 1 running · 2 held',
      { timeout: 30000 }
    );
    // condor_hold says who held a job: "<reason> (by user <name>)"
    await expect(theCard.locator('.jp-CoffeaCasa-holdReason')).toHaveText([
      byUser(`Held: ${MEMORY}`),
      byUser(`Held: ${IMAGE}`)
    ]);
    await screenshot(page, testInfo, 'card-held-jobs');

    await theCard.getByRole('button', { name: 'Jobs' }).click();
    const pane = page.locator('.jp-CoffeaCasa-jobsPanel');
    const row = (id: string) => pane.locator(`tr[data-job-id="${id}"]`);
    await expect(row(ids[0])).toContainText('held', { timeout: 30000 });
    await expect(row(ids[0]).locator('.jp-CoffeaCasa-holdReason')).toHaveText(
      byUser(MEMORY)
    );
    await expect(row(ids[1]).locator('.jp-CoffeaCasa-holdReason')).toHaveText(
      byUser(IMAGE)
    );
    await expect(
      row(ids[2]).getByRole('button', { name: 'Release' })
    ).toHaveCount(0);
    await screenshot(page, testInfo, 'jobs-pane-held');

    // Release asks first; then the job runs again and its worker comes back.
    await row(ids[0]).getByRole('button', { name: 'Release' }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText(`Release job ${ids[0]}?`);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(row(ids[0])).toContainText('held');
    await row(ids[0]).getByRole('button', { name: 'Release' }).click();
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Release' })
      .click();
    await expect(row(ids[0])).toContainText('running', { timeout: 60000 });
    await expect(row(ids[0]).locator('.jp-CoffeaCasa-holdReason')).toHaveCount(
      0
    );

    // Remove (condor_rm) the other held job, after asking.
    await row(ids[1]).getByRole('button', { name: 'Remove' }).click();
    await expect(page.locator('.jp-Dialog')).toContainText(
      `Remove job ${ids[1]}?`
    );
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Remove' })
      .click();
    // it stays in the pane, among the jobs that ended, saying so
    await expect(row(ids[1])).toHaveClass(/jp-mod-ended/, { timeout: 30000 });
    await expect(row(ids[1]).locator('.jp-CoffeaCasa-jobEnd')).toContainText(
      `removed by the cluster: killed from the jobs pane, while held: ${IMAGE}`
    );
    await expect(theCard.locator('.jp-CoffeaCasa-queue')).toHaveText(
      '0 idle · 2 running · 0 held',
      { timeout: 30000 }
    );
    await expect(theCard.locator('.jp-CoffeaCasa-holdReason')).toHaveCount(0);

    // Shell: a lab terminal running condor_ssh_to_job, in the job's sandbox.
    await row(ids[2]).getByRole('button', { name: 'Shell' }).click();
    await expect(
      page.getByRole('tab', { name: `Job ${ids[2]}` })
    ).toBeVisible();
    const sandbox = path.join(
      process.env.CONDOR_DOUBLE_STATE!,
      'execute',
      `dir_${ids[2]}`
    );
    await expect
      .poll(() => shellsIn(sandbox).length, { timeout: 30000 })
      .toBeGreaterThan(0);
    await screenshot(page, testInfo, 'job-shell');
    const terminals = await request.get(`${ROOT}api/terminals`);
    for (const { name } of await terminals.json()) {
      await request.delete(`${ROOT}api/terminals/${name}`);
    }
  });
});

test.describe('job shell (local)', () => {
  const LOCAL = 'http://localhost:8888';
  const LOCAL_API = apiOf(LOCAL);
  test.use({ baseURL: LOCAL });
  test.beforeEach(async ({ request }) => shutdownAll(request, LOCAL_API));
  test.afterEach(async ({ request }) => shutdownAll(request, LOCAL_API));

  test("Shell opens a terminal in the local worker's directory", async ({
    page,
    request
  }) => {
    const cluster = await startCluster(request, 1, LOCAL_API);
    const [job] = await (
      await request.get(`${LOCAL_API}/clusters/${cluster.id}/jobs`)
    ).json();
    expect(job.directory).toBeTruthy();
    const panel = await openSidebar(page);
    await card(panel, cluster.id).getByRole('button', { name: 'Jobs' }).click();
    const row = page.locator(
      `.jp-CoffeaCasa-jobsPanel tr[data-job-id="${job.id}"]`
    );
    await row.getByRole('button', { name: 'Shell' }).click();
    await expect(
      page.getByRole('tab', { name: `Job ${job.id}` })
    ).toBeVisible();
    await expect
      .poll(() => shellsIn(job.directory, false).length, { timeout: 30000 })
      .toBeGreaterThan(0);
    const terminals = await request.get(`${LOCAL}/user/alice/api/terminals`);
    for (const { name } of await terminals.json()) {
      await request.delete(`${LOCAL}/user/alice/api/terminals/${name}`);
    }
  });
});
