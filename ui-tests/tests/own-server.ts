/**
 * A Jupyter server that a spec runs itself, beside the shared ones: to kill
 * it (restart.spec.ts) or to give it a site configuration of its own
 * (options.spec.ts). Same test configuration, its own port and runtime dir.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { apiOf } from './helpers';

export class OwnServer {
  /**
   * `launcher`: what runs `jupyter lab ...` (e.g. inside the real HTCondor
   * pool: `python tests/condor_pool/pool.py --`); by default, nothing.
   */
  constructor(
    readonly port: number,
    private readonly _env: Record<string, string> = {},
    private readonly _launcher: string[] = []
  ) {
    this.origin = `http://localhost:${port}`;
    this.api = apiOf(this.origin);
  }

  readonly origin: string;
  readonly api: string;

  /**
   * Its runtime dir (the cluster registry), the same across restarts; made
   * on first start (Playwright loads spec files in more than one process).
   */
  get runtimeDir(): string {
    if (!this._runtimeDir) {
      this._runtimeDir = fs.mkdtempSync(
        path.join(os.tmpdir(), `coffea-casa-${this.port}-`)
      );
      fs.chmodSync(this._runtimeDir, 0o1777); // a launcher may run the server as another user
    }
    return this._runtimeDir;
  }

  /** Start it and wait until the coffea-casa extension answers. */
  async start(): Promise<void> {
    const logFile = path.join(this.runtimeDir, 'server.log');
    const log = fs.openSync(logFile, 'a');
    const [command, ...args] = [...this._launcher, 'jupyter'];
    this._proc = spawn(
      command,
      [
        ...args,
        'lab',
        '--config',
        'jupyter_server_test_config.py',
        `--ServerApp.port=${this.port}`,
        '--ServerApp.port_retries=0'
      ],
      {
        cwd: path.resolve(__dirname, '..'),
        env: {
          ...process.env,
          JUPYTER_RUNTIME_DIR: this.runtimeDir,
          ...this._env
        },
        stdio: ['ignore', log, log]
      }
    );
    const deadline = Date.now() + 90000;
    while (Date.now() < deadline) {
      try {
        if ((await fetch(`${this.api}/health`)).ok) {
          return;
        }
      } catch {
        // not listening yet
      }
      await new Promise(resolve => setTimeout(resolve, 300));
    }
    throw new Error(
      `the jupyter server on ${this.port} did not start: ` +
        fs.readFileSync(logFile, 'utf-8').slice(-3000)
    );
  }

  /** Stop it with `signal` and wait until it has exited. */
  async stop(signal: NodeJS.Signals): Promise<void> {
    const proc = this._proc;
    this._proc = null;
    if (proc && proc.exitCode === null) {
      const exited = new Promise(resolve => proc.once('exit', resolve));
      proc.kill(signal);
      await exited;
    }
  }

  /** Remove its runtime dir (once stopped). */
  removeRuntimeDir(): void {
    if (this._runtimeDir) {
      fs.rmSync(this._runtimeDir, { recursive: true, force: true });
    }
  }

  private _proc: ChildProcess | null = null;
  private _runtimeDir = '';
}
