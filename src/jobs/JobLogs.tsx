import * as React from 'react';

import { IJobLogs } from '../api';
import { LoadingPane } from './LoadingPane';

/**
 * stdout and stderr of one job, in a lab tab: its output files, or (running,
 * evicted, removed, local) the worker's Dask log, saying which.
 */
export class JobLogsView extends LoadingPane<IJobLogs> {
  constructor(title: string, load: () => Promise<IJobLogs>) {
    super(title, load, { button: 'Reload', loading: 'Loading logs…' });
    this.addClass('jp-CoffeaCasa-jobLogs');
  }

  protected renderContent(logs: IJobLogs): JSX.Element {
    return (
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
            <pre className="jp-CoffeaCasa-log">{logs[stream] || '(empty)'}</pre>
          </section>
        ))}
      </>
    );
  }
}
