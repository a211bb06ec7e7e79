import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IJobLogs } from '../api';

/**
 * stdout and stderr of one job, in a lab tab.
 */
export class JobLogsView extends ReactWidget {
  constructor(
    readonly title_: string,
    private _load: () => Promise<IJobLogs>
  ) {
    super();
    this.addClass('jp-CoffeaCasa-jobLogs');
    void this.reload();
  }

  async reload(): Promise<void> {
    try {
      this._logs = await this._load();
      this._error = null;
    } catch (error) {
      this._error = error instanceof Error ? error.message : String(error);
    }
    this.update();
  }

  render(): JSX.Element {
    const logs = this._logs;
    return (
      <div className="jp-CoffeaCasa-jobLogsBody">
        <header className="jp-CoffeaCasa-header">
          <h2 className="jp-CoffeaCasa-title">{this.title_}</h2>
          <button
            className="jp-Button jp-mod-styled jp-mod-reject"
            onClick={() => void this.reload()}
          >
            Reload
          </button>
        </header>
        {this._error && (
          <div className="jp-CoffeaCasa-error" role="alert">
            {this._error}
          </div>
        )}
        {!logs && !this._error && (
          <p className="jp-CoffeaCasa-note">Loading logs…</p>
        )}
        {logs && (
          <>
            {logs.source === 'dask' && (
              <p className="jp-CoffeaCasa-note">
                The job's output files are not back yet: stderr shows the
                worker's Dask log.
              </p>
            )}
            <section aria-label="stdout">
              <h3 className="jp-CoffeaCasa-sectionTitle">stdout</h3>
              <pre className="jp-CoffeaCasa-log">
                {logs.stdout || '(empty)'}
              </pre>
            </section>
            <section aria-label="stderr">
              <h3 className="jp-CoffeaCasa-sectionTitle">stderr</h3>
              <pre className="jp-CoffeaCasa-log">
                {logs.stderr || '(empty)'}
              </pre>
            </section>
          </>
        )}
      </div>
    );
  }

  private _error: string | null = null;
  private _logs: IJobLogs | null = null;
}
