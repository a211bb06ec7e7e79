import * as React from 'react';

import { IJobAnalysis } from '../api';
import { LoadingPane } from './LoadingPane';

/**
 * Diagnose: why an HTCondor job waits, in a lab tab. The card's one line
 * first, then the pool's whole analysis (`condor_q -better-analyze`).
 */
export class JobAnalysisView extends LoadingPane<IJobAnalysis> {
  constructor(title: string, load: () => Promise<IJobAnalysis>) {
    super(title, load, {
      button: 'Analyse again',
      loading: 'Asking the pool…'
    });
    this.addClass('jp-CoffeaCasa-jobAnalysis');
  }

  protected renderContent(analysis: IJobAnalysis): JSX.Element {
    const job = `Job ${analysis.id} (${analysis.status})`;
    return (
      <>
        <p className="jp-CoffeaCasa-analysisSummary" role="status">
          {analysis.summary
            ? `${job}: ${analysis.summary}`
            : `${job}: the analysis below says more.`}
        </p>
        <section aria-label="condor_q -better-analyze">
          <h3 className="jp-CoffeaCasa-sectionTitle">
            condor_q -better-analyze {analysis.id}
          </h3>
          <pre className="jp-CoffeaCasa-log">{analysis.text}</pre>
        </section>
      </>
    );
  }
}
