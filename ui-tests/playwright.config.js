/**
 * Playwright configuration for the coffea-casa-lab galata tests.
 *
 * The Jupyter server runs with a JupyterHub-style base_url (BASE_PATH), like
 * a single-user server on coffea-casa. Galata builds page URLs as
 * `${baseURL}${appPath}/...`, so baseURL stays the server origin and appPath
 * carries the prefix.
 *
 * Chromium is Debian's (/usr/bin/chromium or $CHROMIUM_PATH); never run
 * `npx playwright install`.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const base = require('@jupyterlab/galata/lib/playwright-config');

// The HTCondor double's queue (port 8889's server), shared with the tests: they
// hold jobs in it as a site policy or an admin would (tests/held.spec.ts).
if (!process.env.CONDOR_DOUBLE_STATE) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'condor-double-ui-'));
  process.env.CONDOR_DOUBLE_STATE = dir;
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
}

const BASE_PATH = '/user/alice/'; // keep in sync with jupyter_server_test_config.py
const ORIGIN = 'http://localhost:8888';
const HTCONDOR_ORIGIN = 'http://localhost:8889'; // tests/jobs.spec.ts

module.exports = {
  ...base,
  reporter: [[process.env.CI ? 'line' : 'list'], ['html', { open: 'never' }]],
  use: {
    ...base.use,
    baseURL: ORIGIN,
    appPath: `${BASE_PATH}lab`,
    video: 'off', // galata's default wants Playwright's own ffmpeg download
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--headless',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: [
    {
      command: 'jlpm start',
      url: `${ORIGIN}${BASE_PATH}lab`,
      timeout: 120000,
      reuseExistingServer: !process.env.CI
    },
    {
      // The same, on the HTCondor test double (see jupyter_server_test_config.py).
      command: 'jlpm start:htcondor',
      url: `${HTCONDOR_ORIGIN}${BASE_PATH}lab`,
      timeout: 120000,
      reuseExistingServer: !process.env.CI
    }
  ]
};
