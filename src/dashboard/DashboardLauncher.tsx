import * as React from 'react';

import { IDashboardPlot } from '../api';

export interface IDashboardLauncherProps {
  /** The plots of the selected cluster's dashboard. */
  plots: ReadonlyArray<IDashboardPlot>;
  /** Whether that dashboard answers (orange buttons) or not (grey). */
  active: boolean;
  clusterName: string | null;
  onOpen: (plot: IDashboardPlot) => void;
}

/**
 * One button per dashboard plot: orange when the selected cluster's
 * dashboard answers, grey when it does not.
 */
export function DashboardLauncher(props: IDashboardLauncherProps): JSX.Element {
  const { plots, active, clusterName } = props;
  return (
    <section
      className={`jp-CoffeaCasa-dashboard ${active ? 'jp-mod-active' : ''}`}
      aria-label="Dask dashboard"
    >
      <h3 className="jp-CoffeaCasa-sectionTitle">
        Dashboard
        {clusterName && (
          <span className="jp-CoffeaCasa-sectionNote"> · {clusterName}</span>
        )}
      </h3>
      {!active && (
        <p className="jp-CoffeaCasa-note">
          {clusterName
            ? 'The dashboard does not answer (yet).'
            : 'Start or select a cluster to see its dashboard.'}
        </p>
      )}
      {plots.length > 0 && (
        <div className="jp-CoffeaCasa-plotButtons">
          {plots.map(plot => (
            <button
              key={plot.path}
              className="jp-CoffeaCasa-plotButton"
              disabled={!active}
              title={
                active
                  ? `Open ${plot.label} in a pane`
                  : 'The dashboard does not answer'
              }
              onClick={() => props.onOpen(plot)}
            >
              {plot.label}
            </button>
          ))}
        </div>
      )}
    </section>
  );
}
