import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { errorMessage, IJobLogs } from '../api';
import { PaneHeader } from './PaneHeader';

/**
 * stdout and stderr of one job, in a lab tab: its output files, or (running,
 * evicted, removed, local) the worker's Dask log, saying which.
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
      this._error = errorMessage(error);
    }
    this.update();
  }

  render(): JSX.Element {
    const logs = this._logs;
    return (
      <div className="jp-CoffeaCasa-jobLogsBody">
        <PaneHeader
          title={this.title_}
          button="Reload"
          onReload={() => void this.reload()}
          error={this._error}
          loading={logs ? null : 'Loading logs…'}
        />
        {logs && (
          <>
            {logs.source === 'dask' && (
              <p className="jp-CoffeaCasa-note jp-CoffeaCasa-logSource">
                {logs.note ??
                  "The job's output files are not back yet: stderr shows the worker's Dask log."}
              </p>
            )}
            {(['stdout', 'stderr'] as const).map(stream => (
              <section key={stream} aria-label={stream}>
                <h3 className="jp-CoffeaCasa-sectionTitle">{stream}</h3>
                <pre className="jp-CoffeaCasa-log">
                  {logs[stream] || '(empty)'}
                </pre>
              </section>
            ))}
          </>
        )}
      </div>
    );
  }

  private _error: string | null = null;
  private _logs: IJobLogs | null = null;
}
