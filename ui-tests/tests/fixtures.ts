/**
 * Galata's `test`, made to work behind a base_url.
 *
 * Galata's `tmpPath` fixture creates the per-test folder with
 * `/api/contents/...` from the server root, which ignores the base_url; this
 * one resolves the contents API under the configured `appPath` prefix.
 */
import { expect, test as base } from '@jupyterlab/galata';
import * as path from 'path';

export { expect };

export const test = base.extend({
  tmpPath: async ({ appPath, baseURL, request }, use, testInfo) => {
    const folder = path.basename(testInfo.outputDir).replace(/-retry\d+$/i, '');
    const basePath = appPath.replace(/lab\/?$/, '');
    const url = `${baseURL}${basePath}api/contents/${encodeURIComponent(folder)}`;
    if ((await request.get(url)).ok()) {
      await request.delete(url); // left over by an earlier run
    }
    const created = await request.put(url, {
      data: { type: 'directory', format: 'json' }
    });
    expect(created.status(), `creating ${url}`).toBe(201);
    await use(folder);
    await request.delete(url).catch(() => undefined);
  }
});
