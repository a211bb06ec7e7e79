/**
 * Behind a real JupyterHub (issue 9): deploy/jupyterhub_config.py with
 * configurable-http-proxy on 127.0.0.1:8900, started by tests/hub.py. Log in
 * at /hub/login, the lab opens at /user/dave/lab, then + NEW, a live
 * dashboard pane, inject and compute. Stopping the hub stops the server,
 * which closes the cluster: its host process is gone afterwards.
 *
 * Plain Playwright (not galata's page fixture, which talks to a server
 * without the hub's login).
 */
import { expect, test } from '@playwright/test';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { isAlive, SIDEBAR_ID } from './helpers';

const PORT = 8900;
const USER = 'dave';
let folder = ''; // made in beforeAll: Playwright loads this file in more than one process
let hub: ChildProcess | null = null;
let hubUrl = '';
let password = '';
const hosts: number[] = [];

async function startHub(): Promise<void> {
  const log = fs.openSync(path.join(folder, 'launcher.log'), 'a');
  hub = spawn(
    'python',
    [
      path.resolve(__dirname, '..', '..', 'tests', 'hub.py'),
      `--port=${PORT}`,
      `--folder=${path.join(folder, 'hub')}`,
      `--users=${USER}`
    ],
    { stdio: ['ignore', 'pipe', log] }
  );
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    hub!.stdout!.on('data', chunk => {
      out += chunk;
      if (out.includes('\n')) {
        resolve(out.split('\n')[0]);
      }
    });
    hub!.once('exit', code =>
      reject(
        new Error(
          `tests/hub.py exited (${code}): ` +
            fs.readFileSync(path.join(folder, 'launcher.log'), 'utf-8')
        )
      )
    );
  });
  ({ url: hubUrl, password } = JSON.parse(line));
}

async function stopHub(): Promise<void> {
  const proc = hub;
  hub = null;
  if (proc && proc.exitCode === null) {
    const exited = new Promise(resolve => proc.once('exit', resolve));
    proc.kill('SIGTERM'); // the hub stops dave's server, which closes its clusters
    await exited;
  }
}

test.describe('behind JupyterHub', () => {
  test.beforeAll(async () => {
    test.setTimeout(120000);
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'coffea-casa-hub-ui-'));
    await startHub();
  });

  test.afterAll(async () => {
    test.setTimeout(120000);
    await stopHub();
    await expect
      .poll(() => hosts.filter(isAlive), { timeout: 60000 })
      .toEqual([]);
    fs.rmSync(folder, { recursive: true, force: true });
  });

  test('log in, + NEW, a live dashboard pane, inject and compute', async ({
    page
  }, testInfo) => {
    test.setTimeout(240000);
    await page.goto(`${hubUrl}/hub/login`);
    await page.locator('input[name="username"]').fill(USER);
    await page.locator('input[name="password"]').fill(password);
    await page.locator('#login_submit').click();
    // the hub spawns the server, then sends the browser to its lab
    await page.waitForURL(`${hubUrl}/user/${USER}/lab**`, { timeout: 120000 });
    const tab = page.locator(
      `.jp-SideBar.jp-mod-left [data-id="${SIDEBAR_ID}"]`
    );
    await expect(tab).toBeVisible({ timeout: 60000 });
    await tab.click();
    const panel = page.locator(`#${SIDEBAR_ID}`);
    await expect(panel).toBeVisible();

    // + NEW: a cluster with one worker (DASK_LABEXTENSION__DEFAULT__WORKERS)
    await panel.getByRole('button', { name: '+ NEW' }).click();
    const item = panel.locator('.jp-CoffeaCasa-card').first();
    await expect(item.locator('.jp-CoffeaCasa-status')).toHaveText('running', {
      timeout: 90000
    });
    await expect(item.locator('.jp-CoffeaCasa-workers')).toHaveText('1', {
      timeout: 60000
    });
    const address = await item.locator('.jp-CoffeaCasa-address').innerText();
    expect(address).toMatch(/^tls:\/\/127\.0\.0\.2:\d+$/);
    const id = await item.getAttribute('data-cluster-id');
    // its host process, for the check after the hub has stopped
    const models = await (
      await page.request.get(`${hubUrl}/user/${USER}/coffea-casa/clusters`)
    ).json();
    expect(models.map((m: { id: string }) => m.id)).toEqual([id]);
    hosts.push(models[0].pid);

    // a live dashboard pane, through the hub's proxy and ours
    const section = panel.getByRole('region', { name: 'Dask dashboard' });
    await expect(section).toHaveClass(/jp-mod-active/, { timeout: 30000 });
    await section
      .getByRole('button', { name: 'Task Stream', exact: true })
      .click();
    await expect(
      page.locator('.jp-CoffeaCasa-dashboardWidget iframe')
    ).toHaveAttribute(
      'src',
      new RegExp(
        `/user/${USER}/coffea-casa/dashboard/${id}/individual-task-stream$`
      )
    );
    const frame = page.frameLocator('.jp-CoffeaCasa-dashboardPane iframe');
    await expect(frame.locator('canvas').first()).toBeVisible({
      timeout: 30000
    });

    // a notebook (made through the server's contents API, with the browser's
    // cookie and XSRF token), opened in the lab; the sidebar is restored open
    const xsrf = (await page.context().cookies()).find(c => c.name === '_xsrf');
    const made = await page.request.put(
      `${hubUrl}/user/${USER}/api/contents/hub.ipynb`,
      {
        headers: { 'X-XSRFToken': xsrf?.value ?? '' },
        data: {
          type: 'notebook',
          content: {
            cells: [
              {
                cell_type: 'code',
                source: '',
                metadata: {},
                outputs: [],
                execution_count: null
              }
            ],
            metadata: {
              kernelspec: {
                name: 'python3',
                display_name: 'Python 3',
                language: 'python'
              }
            },
            nbformat: 4,
            nbformat_minor: 5
          }
        }
      }
    );
    expect(made.status(), await made.text()).toBe(201);
    await page.goto(`${hubUrl}/user/${USER}/lab/tree/hub.ipynb`);
    const notebook = page.locator('.jp-NotebookPanel:visible');
    // the lab may still ask which kernel (its own session logic): take the preferred one
    const dialog = page.locator('.jp-Dialog', { hasText: 'Select Kernel' });
    if (
      await dialog.waitFor({ timeout: 20000 }).then(
        () => true,
        () => false
      )
    ) {
      await dialog.locator('.jp-Dialog-button.jp-mod-accept').click();
    }
    await expect(
      notebook.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
    ).toHaveCount(1, {
      timeout: 60000
    });
    if (!(await panel.isVisible())) {
      await tab.click();
    }
    await item.click({ button: 'right' });
    await page
      .getByRole('menuitem', { name: 'Inject Client Connection Code' })
      .click();
    const injected = notebook.locator('.jp-Cell', {
      hasText: 'CoffeaCasaCluster.security()'
    });
    await expect(injected).toHaveCount(1);
    await expect(injected).toContainText(`Client("${address}"`);
    await injected.locator('.cm-content').click();
    await page.keyboard.press('Shift+Enter');
    await expect(injected.locator('.jp-OutputArea-output')).toContainText(
      address,
      {
        timeout: 60000
      }
    );
    await notebook.locator('.jp-Cell').last().locator('.cm-content').click();
    await page.keyboard.type(
      "print(client.submit(lambda x: x * 6, 7).result(), len(client.scheduler_info()['workers']))"
    );
    await page.keyboard.press('Shift+Enter');
    const computed = notebook.locator('.jp-Cell', { hasText: 'client.submit' });
    await expect(computed.locator('.jp-OutputArea-output')).toHaveText('42 1', {
      timeout: 60000
    });
    await expect(notebook.locator('[data-mime-type*="error"]')).toHaveCount(0);
    const shot = testInfo.outputPath('hub-lab.png');
    await page.screenshot({ path: shot });
    await testInfo.attach('hub-lab', { path: shot, contentType: 'image/png' });
  });
});
