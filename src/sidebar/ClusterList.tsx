import * as React from 'react';

import { IClusterModel } from '../api';
import { ClusterCard } from './ClusterCard';

export interface IClusterListProps {
  clusters: ReadonlyArray<IClusterModel>;
  /** Why the list could not be fetched, if it could not. */
  error: string | null;
  /** Why the last action failed, if it did. */
  actionError: string | null;
  loaded: boolean;
  canStart: boolean;
  onNewCluster: () => void;
  onRetry: () => void;
}

export const EMPTY_MESSAGE =
  'No clusters yet. Press + NEW to start one, or create a CoffeaCasaCluster in a notebook.';

/**
 * The sidebar panel: a header with the + NEW button, error lines, and the
 * cluster cards (or an empty state).
 */
export function ClusterList(props: IClusterListProps): JSX.Element {
  const { clusters, error, actionError, loaded } = props;
  return (
    <div className="jp-CoffeaCasa-panel">
      <header className="jp-CoffeaCasa-header">
        <h2 className="jp-CoffeaCasa-title">Dask clusters</h2>
        <button
          className="jp-Button jp-mod-styled jp-mod-accept jp-CoffeaCasa-new"
          disabled={!props.canStart}
          onClick={props.onNewCluster}
          title="Start a new Dask cluster"
        >
          + NEW
        </button>
      </header>
      {actionError && <ErrorLine message={actionError} />}
      {error && <ErrorLine message={error} onRetry={props.onRetry} />}
      {!loaded && <p className="jp-CoffeaCasa-note">Loading clusters…</p>}
      {loaded && !error && clusters.length === 0 && (
        <p className="jp-CoffeaCasa-empty">{EMPTY_MESSAGE}</p>
      )}
      {clusters.length > 0 && (
        <ul className="jp-CoffeaCasa-cards">
          {clusters.map(cluster => (
            <ClusterCard key={cluster.id} cluster={cluster} />
          ))}
        </ul>
      )}
    </div>
  );
}

function ErrorLine(props: {
  message: string;
  onRetry?: () => void;
}): JSX.Element {
  return (
    <div className="jp-CoffeaCasa-error" role="alert">
      <span>{props.message}</span>
      {props.onRetry && (
        <button className="jp-CoffeaCasa-link" onClick={props.onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}
