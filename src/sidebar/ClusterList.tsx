import * as React from 'react';

import { IClusterModel } from '../api';
import { ClusterCard } from './ClusterCard';

export interface IClusterListProps {
  clusters: ReadonlyArray<IClusterModel>;
  selectedId: string | null;
  /** Why the list could not be fetched, if it could not. */
  error: string | null;
  /** Why the last action failed, if it did. */
  actionError: string | null;
  loaded: boolean;
  canStart: boolean;
  isBusy: (id: string) => boolean;
  cardError: (id: string) => string | undefined;
  onNewCluster: () => void;
  onRetry: () => void;
  onSelect: (id: string) => void;
  onScale: (id: string) => void;
  onShutdown: (id: string) => void;
  onDismiss: (id: string) => void;
  onJobs: (id: string) => void;
  onRecord: (id: string) => void;
  onKeep: (id: string) => void;
  onDiagnose: (id: string, job: string) => void;
  onInstallPackages: (id: string, packages: string[]) => void;
}

export const EMPTY_MESSAGE =
  'No clusters yet. Press + NEW to start one, or create a CoffeaCasaCluster in a notebook.';

/**
 * The cluster manager: a header with the + NEW button, error lines, and the
 * cluster cards (or an empty state).
 */
export function ClusterList(props: IClusterListProps): JSX.Element {
  const { clusters, error, actionError, loaded } = props;
  return (
    <section className="jp-CoffeaCasa-clusters" aria-label="Dask clusters">
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
            <ClusterCard
              key={cluster.id}
              cluster={cluster}
              selected={cluster.id === props.selectedId}
              busy={props.isBusy(cluster.id)}
              actionError={props.cardError(cluster.id)}
              onSelect={() => props.onSelect(cluster.id)}
              onScale={() => props.onScale(cluster.id)}
              onShutdown={() => props.onShutdown(cluster.id)}
              onDismiss={() => props.onDismiss(cluster.id)}
              onJobs={() => props.onJobs(cluster.id)}
              onRecord={() => props.onRecord(cluster.id)}
              onKeep={() => props.onKeep(cluster.id)}
              onDiagnose={job => props.onDiagnose(cluster.id, job)}
              onInstallPackages={packages =>
                props.onInstallPackages(cluster.id, packages)
              }
            />
          ))}
        </ul>
      )}
    </section>
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
