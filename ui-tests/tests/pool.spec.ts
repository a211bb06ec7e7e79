/**
 * The sidebar on a REAL HTCondor pool (tests/condor_pool: Debian trixie's
 * minicondor in a chroot, started by this spec with the lab inside it, as
 * its user). Held jobs: the card says why; Release and Remove in the jobs
 * pane act on the real jobs. Shell opens condor_ssh_to_job in a lab
 * terminal, whose shell runs in the job's sandbox on the execute node.
 * The pool needs root and `make condor-pool`; elsewhere this spec skips.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { expect, test } from './fixtures';
import {
  card,
  openSidebar,
  screenshot,
  shutdownAll,
  startCluster
} from './helpers';
import { OwnServer } from './own-server';

const POOL = path.resolve(__dirname, '../../tests/condor_pool/pool.py');
const INSTALLED = path.resolve(__dirname, '../../.condor-pool/.installed');
const AVAILABLE = process.getuid?.() === 0 && fs.existsSync(INSTALLED);
const REASON = 'over the site memory policy';
const server = new OwnServer(8893, { COFFEA_CASA_UI_BACKEND: 'pool' }, [
  'python',
  POOL,
  '--'
]);

/** A command as the pool's administrator (root, inside the pool). */
function admin(...argv: string[]): string {
  return execFileSync('python', [POOL, '--admin', ...argv], {
    encoding: 'utf-8'
  });
}

test.describe('a real HTCondor pool', () => {
  test.skip(
    !AVAILABLE,
    'no real HTCondor pool here: it needs root and `make condor-pool`'
  );
  test.use({ baseURL: server.origin });
  test.beforeAll(async () => {
    test.setTimeout(120000);
    await server.start();
  });
  test.afterAll(async ({ request }) => {
    await shutdownAll(request, server.api);
    await server.stop('SIGTERM');
    server.removeRuntimeDir();
  });

  test('held jobs: why, Release and Remove on the real jobs; Shell in the sandbox', async ({
    page,
    request
  }, testInfo) => {
    test.setTimeout(240000);
    const cluster = await startCluster(request, 3, server.api);
    const jobsUrl = `${server.api}/clusters/${cluster.id}/jobs`;
    const ids: string[] = (await (await request.get(jobsUrl)).json())
      .map((j: { id: string }) => j.id)
      .sort();
    expect(ids).toHaveLength(3);
    admin('condor_hold', '-reason', REASON, ids[0]);
    admin('condor_hold', ids[1]);

    const panel = await openSidebar(page);
    const theCard = card(panel, cluster.id);
    await expect(theCard.locator('.jp-CoffeaCasa-queue')).toHaveText(
      '0 idle · 1 running · 2 held',
      { timeout: 30000 }
    );
    // HTCondor says who held it
    await expect(theCard.locator('.jp-CoffeaCasa-holdReason')).toHaveText([
      new RegExp(`^Held: ${REASON} \\(by user \\w+\\)$`),
      /^Held: via condor_hold \(by user \w+\)$/
    ]);
    await screenshot(page, testInfo, 'pool-card-held');

    await theCard.getByRole('button', { name: 'Jobs' }).click();
    const pane = page.locator('.jp-CoffeaCasa-jobsPanel');
    const row = (id: string) => pane.locator(`tr[data-job-id="${id}"]`);
    await expect(row(ids[0])).toContainText('held', { timeout: 30000 });

    // Release: the real job runs again, and its worker comes back
    await row(ids[0]).getByRole('button', { name: 'Release' }).click();
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Release' })
      .click();
    await expect(row(ids[0])).toContainText('running', { timeout: 60000 });
    await expect
      .poll(
        async () =>
          (
            await (
              await request.get(`${server.api}/clusters/${cluster.id}`)
            ).json()
          ).workers,
        { timeout: 60000 }
      )
      .toBe(2);

    // Remove: the real job leaves the queue, and stays in the pane among those that ended
    await row(ids[1]).getByRole('button', { name: 'Remove' }).click();
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Remove' })
      .click();
    await expect(row(ids[1])).toHaveClass(/jp-mod-ended/, { timeout: 30000 });
    await expect(row(ids[1]).locator('.jp-CoffeaCasa-jobEnd')).toContainText(
      'removed by the cluster: killed from the jobs pane, while held: '
    );
    await expect
      .poll(
        () => admin('condor_q', '-allusers', '-af', 'ClusterId', 'ProcId'),
        {
          timeout: 30000
        }
      )
      .not.toContain(ids[1].replace('.', ' '));

    // Shell: condor_ssh_to_job in a lab terminal; its shell is in the job's sandbox
    await row(ids[2]).getByRole('button', { name: 'Shell' }).click();
    await expect(
      page.getByRole('tab', { name: `Job ${ids[2]}` })
    ).toBeVisible();
    const marker = path.join(
      fs.mkdtempSync('/tmp/coffea-casa-shell-'),
      'sandbox'
    );
    fs.chmodSync(path.dirname(marker), 0o1777);
    const terminal = page.locator('.jp-Terminal').last();
    await expect
      .poll(
        async () => {
          // typed again until the remote shell is there to run it
          await terminal.click();
          await page.keyboard.type(`echo "$PWD" > ${marker}\n`);
          return fs.existsSync(marker) ? fs.readFileSync(marker, 'utf-8') : '';
        },
        { timeout: 60000, intervals: [3000] }
      )
      .toContain('/execute/dir_');
    await screenshot(page, testInfo, 'pool-job-shell');
    fs.rmSync(path.dirname(marker), { recursive: true, force: true });
    const terminals = await request.get(
      `${server.origin}/user/alice/api/terminals`
    );
    for (const { name } of await terminals.json()) {
      await request.delete(`${server.origin}/user/alice/api/terminals/${name}`);
    }
  });
});
