import * as React from 'react';

import { IClusterModel } from '../api';
import { canConnect } from '../inject';
import { handleCardPress } from './drag';
import { formatBytes } from './format';

export interface IClusterCardProps {
  cluster: IClusterModel;
  selected: boolean;
  busy: boolean;
  /** Why the last action on this cluster failed, if it did. */
  actionError?: string;
  onSelect: () => void;
  onScale: () => void;
  onShutdown: () => void;
  /** Take a lost cluster off the list (it replaces Shutdown). */
  onDismiss: () => void;
  onJobs: () => void;
  onRecord: () => void;
}

/**
 * One cluster: name, where it lives (a notebook or a script), status,
 * backend, scheduler address, resources, a progress bar while workers come
 * up, and its Scale and Shutdown buttons (Dismiss once it is lost).
 * Right-click opens the cluster's context menu; drag it into a notebook to
 * insert client code.
 */
export function ClusterCard(props: IClusterCardProps): JSX.Element {
  const { cluster, selected } = props;
  return (
    <li
      className={
        `jp-CoffeaCasa-card jp-mod-${cluster.status}` +
        (selected ? ' jp-mod-selected' : '')
      }
      data-cluster-id={cluster.id}
      aria-selected={selected}
      title={
        canConnect(cluster)
          ? 'Drag into a notebook, or right-click, to insert client code'
          : undefined
      }
      onClick={props.onSelect}
      onContextMenu={props.onSelect}
      onMouseDown={event => handleCardPress(event, cluster)}
    >
      <div className="jp-CoffeaCasa-cardHeader">
        <span className="jp-CoffeaCasa-cardName" title={cluster.id}>
          {cluster.name}
        </span>
        <KindBadge cluster={cluster} />
        <span className={`jp-CoffeaCasa-status jp-mod-${cluster.status}`}>
          {cluster.status}
        </span>
      </div>
      <CardFields cluster={cluster} />
      <WorkerProgress cluster={cluster} />
      <HoldReasons cluster={cluster} />
      {cluster.idle && (
        <div className="jp-CoffeaCasa-cardNote" role="status">
          {cluster.idle}
        </div>
      )}
      {[cluster.error, props.actionError].map(
        (error, i) =>
          error && (
            <div key={i} className="jp-CoffeaCasa-cardError" role="alert">
              {error}
            </div>
          )
      )}
      <CardActions {...props} />
    </li>
  );
}

/**
 * Where a cluster made outside the sidebar lives: the notebook (its file
 * name; the path in the tooltip) or a script (its command line in the
 * tooltip).
 */
function KindBadge(props: { cluster: IClusterModel }): JSX.Element | null {
  const { kind, where } = props.cluster;
  if (kind !== 'kernel' && kind !== 'script') {
    return null;
  }
  const text =
    kind === 'script' ? 'script' : where ? where.split('/').pop() : 'notebook';
  return (
    <span className="jp-CoffeaCasa-badge" title={where ?? undefined}>
      {text}
    </span>
  );
}

/** Backend, scheduler address, workers, adaptive bounds, cores and memory. */
function CardFields(props: { cluster: IClusterModel }): JSX.Element {
  const { cluster } = props;
  return (
    <dl className="jp-CoffeaCasa-cardFields">
      <dt>Backend</dt>
      <dd className="jp-CoffeaCasa-backend">
        {cluster.backend === 'htcondor' ? 'HTCondor' : 'local'}
      </dd>
      <dt>Scheduler</dt>
      <dd className="jp-CoffeaCasa-address" title={cluster.scheduler_address}>
        {cluster.scheduler_address || '—'}
      </dd>
      <dt>Workers</dt>
      <dd className="jp-CoffeaCasa-workers">{workersText(cluster)}</dd>
      {cluster.queue && (
        <>
          <dt>Jobs</dt>
          <dd className="jp-CoffeaCasa-queue">
            {cluster.queue.idle} idle · {cluster.queue.running} running ·{' '}
            {cluster.queue.held} held
          </dd>
        </>
      )}
      {cluster.adapt && (
        <>
          <dt>Adaptive</dt>
          <dd className="jp-CoffeaCasa-adapt">
            {cluster.adapt.minimum} – {cluster.adapt.maximum} workers
          </dd>
        </>
      )}
      <dt>Cores</dt>
      <dd className="jp-CoffeaCasa-cores">{cluster.cores}</dd>
      <dt>Memory</dt>
      <dd className="jp-CoffeaCasa-memory">
        {formatBytes(cluster.memory_bytes)}
      </dd>
    </dl>
  );
}

/**
 * The performance report toggle, and the Jobs, Scale and Shutdown buttons;
 * a lost cluster has Dismiss instead of Shutdown.
 */
function CardActions(props: IClusterCardProps): JSX.Element {
  const { busy } = props;
  const running = props.cluster.status === 'running';
  const lost = props.cluster.status === 'lost';
  return (
    <>
      <label
        className="jp-CoffeaCasa-record"
        title="Stopping saves the Dask performance report and opens it in a tab"
      >
        <input
          type="checkbox"
          checked={!!props.cluster.recording}
          disabled={!running || busy}
          onChange={props.onRecord}
        />
        Record performance report
      </label>
      <div className="jp-CoffeaCasa-cardButtons">
        <button
          className="jp-Button jp-mod-styled jp-mod-reject"
          disabled={!running}
          onClick={props.onJobs}
          title="The cluster's HTCondor jobs"
        >
          Jobs
        </button>
        <button
          className="jp-Button jp-mod-styled jp-mod-reject"
          disabled={!running || busy}
          onClick={props.onScale}
        >
          Scale
        </button>
        <button
          className="jp-Button jp-mod-styled jp-mod-warn"
          disabled={busy}
          onClick={lost ? props.onDismiss : props.onShutdown}
        >
          {lost ? 'Dismiss' : 'Shutdown'}
        </button>
      </div>
    </>
  );
}

/** Why jobs are held (memory, an image that cannot be pulled, a site policy). */
function HoldReasons(props: { cluster: IClusterModel }): JSX.Element | null {
  const reasons = props.cluster.queue?.hold_reasons ?? [];
  if (!props.cluster.queue?.held || reasons.length === 0) {
    return null;
  }
  return (
    <ul className="jp-CoffeaCasa-holdReasons" aria-label="Why jobs are held">
      {reasons.slice(0, 3).map(reason => (
        <li key={reason} className="jp-CoffeaCasa-holdReason" title={reason}>
          Held: {reason}
        </li>
      ))}
    </ul>
  );
}

/**
 * While the cluster starts, or workers are requested but not connected yet.
 */
function WorkerProgress(props: { cluster: IClusterModel }): JSX.Element | null {
  const { cluster } = props;
  if (cluster.status === 'starting') {
    return (
      <div className="jp-CoffeaCasa-progress">
        <progress aria-label="Starting the scheduler" />
        <span>Starting the scheduler…</span>
      </div>
    );
  }
  const wanted = cluster.requested_workers;
  if (cluster.status !== 'running' || wanted <= cluster.workers) {
    return null;
  }
  return (
    <div className="jp-CoffeaCasa-progress">
      <progress
        aria-label="Workers connected"
        max={wanted}
        value={cluster.workers}
      />
      <span>
        {cluster.workers} / {wanted} workers up
      </span>
    </div>
  );
}

export function workersText(cluster: IClusterModel): string {
  if (cluster.requested_workers !== cluster.workers) {
    return `${cluster.workers} of ${cluster.requested_workers} requested`;
  }
  return String(cluster.workers);
}
