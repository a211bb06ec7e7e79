/**
 * Shared helpers of the coffea-casa UI tests: the REST API under the
 * server's base_url (for set-up and clean-up) and sidebar shortcuts.
 */
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { APIRequestContext, Locator, TestInfo } from '@playwright/test';

import { expect } from './fixtures';

export const SIDEBAR_ID = 'coffea-casa-lab-sidebar';
export const ORIGIN = 'http://localhost:8888';
export const BASE_PATH = '/user/alice/';
export const API = `${ORIGIN}${BASE_PATH}coffea-casa`;

export interface ICluster {
  id: string;
  name: string;
  status: string;
  scheduler_address: string;
  workers: number;
  requested_workers: number;
  adapt?: { minimum: number; maximum: number } | null;
  error?: string | null;
}

/** The coffea-casa API of the server at `origin`. */
export function apiOf(origin: string): string {
  return `${origin}${BASE_PATH}coffea-casa`;
}

export async function listClusters(
  request: APIRequestContext,
  api = API
): Promise<ICluster[]> {
  const response = await request.get(`${api}/clusters`);
  expect(response.ok(), 'GET clusters').toBe(true);
  return response.json();
}

/** Start a cluster through the API and wait until it runs with `workers`. */
export async function startCluster(
  request: APIRequestContext,
  workers = 1,
  api = API
): Promise<ICluster> {
  const response = await request.put(`${api}/clusters`, {
    data: { workers }
  });
  expect(response.status(), 'PUT clusters').toBe(201);
  const { id } = (await response.json()) as ICluster;
  let cluster: ICluster | undefined;
  await expect
    .poll(
      async () => {
        cluster = await (await request.get(`${api}/clusters/${id}`)).json();
        return cluster?.status === 'running' ? cluster.workers : -1;
      },
      { timeout: 90000, message: `cluster ${id} running` }
    )
    .toBeGreaterThanOrEqual(workers);
  return cluster!;
}

/** Shut down every cluster the server knows (tests must leave none behind). */
export async function shutdownAll(
  request: APIRequestContext,
  api = API
): Promise<void> {
  for (const cluster of await listClusters(request, api)) {
    await request.delete(`${api}/clusters/${cluster.id}`);
  }
  expect(await listClusters(request, api)).toEqual([]);
}

/** Whether a process of this machine (a worker, a host, a kernel) still runs. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function openSidebar(
  page: IJupyterLabPageFixture
): Promise<Locator> {
  await page.sidebar.openTab(SIDEBAR_ID);
  const panel = page.locator(`#${SIDEBAR_ID}`);
  await expect(panel).toBeVisible();
  return panel;
}

export function card(panel: Locator, id: string): Locator {
  return panel.locator(`.jp-CoffeaCasa-card[data-cluster-id="${id}"]`);
}

/** A screenshot as a test artifact (not a snapshot baseline). */
export async function screenshot(
  page: IJupyterLabPageFixture,
  testInfo: TestInfo,
  name: string
): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

/**
 * Screenshots `${name}-light` and `${name}-dark` as test artifacts, once
 * `visible` shows in each theme; the light theme is back after.
 */
export async function screenshotBothThemes(
  page: IJupyterLabPageFixture,
  testInfo: TestInfo,
  name: string,
  visible: Locator
): Promise<void> {
  await expect(visible).toBeVisible();
  await screenshot(page, testInfo, `${name}-light`);
  await page.theme.setDarkTheme();
  await expect(visible).toBeVisible();
  await screenshot(page, testInfo, `${name}-dark`);
  await page.theme.setLightTheme();
}

/** Run `code` in cell `index` of the open notebook; its text output. */
export async function runCell(
  page: IJupyterLabPageFixture,
  index: number,
  code: string,
  expected: string | RegExp
): Promise<string> {
  // Running the last cell may have added an empty one: fill that, else add one.
  if (index < (await page.notebook.getCellCount())) {
    await page.notebook.setCell(index, 'code', code);
  } else {
    await page.notebook.addCell('code', code);
  }
  await page.notebook.runCell(index);
  const output = (await page.notebook.getCellOutputLocator(index))!;
  await expect(output).toContainText(expected, { timeout: 120000 });
  return (await output.innerText()).trim();
}

/** Close the open notebook, without waiting on a dead kernel's dialog. */
export async function closeNotebook(
  page: IJupyterLabPageFixture
): Promise<void> {
  // A killed kernel leaves JupyterLab's "kernel restarting" dialog up: do not wait on it.
  const closed = page.notebook.close(true).catch(() => undefined);
  await Promise.race([
    closed,
    new Promise(resolve => setTimeout(resolve, 10000))
  ]);
}
