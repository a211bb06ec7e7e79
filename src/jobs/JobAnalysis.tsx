import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { errorMessage, IJobAnalysis } from '../api';
import { PaneHeader } from './PaneHeader';

/**
 * Diagnose: why an HTCondor job waits, in a lab tab. The card's one line
 * first, then the pool's whole analysis (`condor_q -better-analyze`).
 */
export class JobAnalysisView extends ReactWidget {
  constructor(
    readonly title_: string,
    private _load: () => Promise<IJobAnalysis>
  ) {
    super();
    this.addClass('jp-CoffeaCasa-jobAnalysis');
    void this.reload();
  }

  async reload(): Promise<void> {
    try {
      this._analysis = await this._load();
      this._error = null;
    } catch (error) {
      this._error = errorMessage(error);
    }
    this.update();
  }

  render(): JSX.Element {
    const analysis = this._analysis;
    return (
      <div className="jp-CoffeaCasa-jobLogsBody">
        <PaneHeader
          title={this.title_}
          button="Analyse again"
          onReload={() => void this.reload()}
          error={this._error}
          loading={analysis ? null : 'Asking the pool…'}
        />
        {analysis && (
          <>
            <p className="jp-CoffeaCasa-analysisSummary" role="status">
              {analysis.summary
                ? `Job ${analysis.id} (${analysis.status}): ${analysis.summary}`
                : `Job ${analysis.id} (${analysis.status}): the analysis below says more.`}
            </p>
            <section aria-label="condor_q -better-analyze">
              <h3 className="jp-CoffeaCasa-sectionTitle">
                condor_q -better-analyze {analysis.id}
              </h3>
              <pre className="jp-CoffeaCasa-log">{analysis.text}</pre>
            </section>
          </>
        )}
      </div>
    );
  }

  private _error: string | null = null;
  private _analysis: IJobAnalysis | null = null;
}
