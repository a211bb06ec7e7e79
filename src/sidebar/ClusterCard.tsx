import * as React from 'react';

import { IClusterModel } from '../api';
import { formatBytes } from './format';

/**
 * One cluster: name, status, backend, scheduler address and resources.
 */
export function ClusterCard(props: { cluster: IClusterModel }): JSX.Element {
  const { cluster } = props;
  return (
    <li
      className={`jp-CoffeaCasa-card jp-mod-${cluster.status}`}
      data-cluster-id={cluster.id}
    >
      <div className="jp-CoffeaCasa-cardHeader">
        <span className="jp-CoffeaCasa-cardName" title={cluster.id}>
          {cluster.name}
        </span>
        <span className={`jp-CoffeaCasa-status jp-mod-${cluster.status}`}>
          {cluster.status}
        </span>
      </div>
      <dl className="jp-CoffeaCasa-cardFields">
        <dt>Backend</dt>
        <dd>{cluster.backend}</dd>
        <dt>Scheduler</dt>
        <dd className="jp-CoffeaCasa-address" title={cluster.scheduler_address}>
          {cluster.scheduler_address || '—'}
        </dd>
        <dt>Workers</dt>
        <dd>{workersText(cluster)}</dd>
        <dt>Cores</dt>
        <dd>{cluster.cores}</dd>
        <dt>Memory</dt>
        <dd>{formatBytes(cluster.memory_bytes)}</dd>
      </dl>
      {cluster.error && (
        <div className="jp-CoffeaCasa-cardError" role="alert">
          {cluster.error}
        </div>
      )}
    </li>
  );
}

function workersText(cluster: IClusterModel): string {
  if (cluster.adapt) {
    const { minimum, maximum } = cluster.adapt;
    return `${cluster.workers} (adaptive ${minimum}–${maximum})`;
  }
  if (cluster.requested_workers !== cluster.workers) {
    return `${cluster.workers} of ${cluster.requested_workers} requested`;
  }
  return String(cluster.workers);
}
