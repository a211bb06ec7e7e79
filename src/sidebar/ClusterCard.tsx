import * as React from 'react';

import { IClusterModel, IKeepModel, IPackageMismatch } from '../api';
import { canConnect } from '../inject';
import { handleCardPress } from './drag';
import { formatBytes, formatDuration } from './format';

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
  /** Keep it running when the server stops, or not (sidebar clusters). */
  onKeep: () => void;
  /** The pool's analysis of the job that waits, in a tab. */
  onDiagnose: (job: string) => void;
  /** Install Packages on Dask Workers…, the requirements filled in. */
  onInstallPackages: (packages: string[]) => void;
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
        {cluster.keep && (
          <span
            className="jp-CoffeaCasa-badge jp-CoffeaCasa-keptBadge"
            title={`Kept: runs on when this Jupyter server stops, ${keepText(cluster.keep)}`}
          >
            kept
          </span>
        )}
        <span className={`jp-CoffeaCasa-status jp-mod-${cluster.status}`}>
          {cluster.status}
        </span>
      </div>
      <CardFields cluster={cluster} />
      <WorkerProgress cluster={cluster} />
      <HoldReasons cluster={cluster} />
      <IdleReason cluster={cluster} onDiagnose={props.onDiagnose} />
      <EnvironmentWarning
        cluster={cluster}
        onInstallPackages={props.onInstallPackages}
      />
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

/** How long a kept cluster waits for the next server to adopt it. */
export function keepText(keep: IKeepModel): string {
  if (keep.until) {
    return `until ${new Date(keep.until * 1000).toLocaleString()} unless a server adopts it`;
  }
  return `up to ${formatDuration(keep.seconds)} after the server stops`;
}

/** One worker job: `4 cores · 6.0 GiB`. */
export function shapeText(cores: number, memoryBytes: number): string {
  return `${cores} ${cores === 1 ? 'core' : 'cores'} · ${formatBytes(memoryBytes)}`;
}

/**
 * Backend, scheduler address, workers, adaptive bounds, cores and memory,
 * the worker shape (what one worker job gets), and until when it is kept.
 */
function CardFields(props: { cluster: IClusterModel }): JSX.Element {
  const { cluster } = props;
  const shape = cluster.worker_shape;
  const local = cluster.backend !== 'htcondor';
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
      {shape && (
        <>
          <dt>Worker</dt>
          <dd className="jp-CoffeaCasa-shape">
            {shapeText(shape.cores, shape.memory_bytes)}
          </dd>
        </>
      )}
      {shape?.image && (
        <>
          <dt>Image</dt>
          <dd
            className={'jp-CoffeaCasa-image' + (local ? ' jp-mod-unused' : '')}
            title={
              local
                ? `${shape.image}: the local backend runs its workers as processes here; the image is used on HTCondor`
                : shape.image
            }
          >
            {shape.image}
          </dd>
        </>
      )}
      {cluster.keep && (
        <>
          <dt>Kept</dt>
          <dd className="jp-CoffeaCasa-keep">{keepText(cluster.keep)}</dd>
        </>
      )}
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
  const sidebar = (props.cluster.kind ?? 'sidebar') === 'sidebar';
  return (
    <>
      {sidebar && (
        <CardToggle
          className="jp-CoffeaCasa-keepToggle"
          title="A kept cluster runs on when this Jupyter server stops, and the next server adopts it; if none does in time (the site's coffea-casa.keep-for), it closes itself"
          checked={!!props.cluster.keep}
          disabled={!(running || props.cluster.status === 'starting') || busy}
          onChange={props.onKeep}
          label="Keep running when the server stops"
        />
      )}
      <CardToggle
        title="Stopping saves the Dask performance report and opens it in a tab"
        checked={!!props.cluster.recording}
        disabled={!running || busy}
        onChange={props.onRecord}
        label="Record performance report"
      />
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

/** A checkbox of the card whose state is the server's (the click asks it). */
function CardToggle(props: {
  label: string;
  title: string;
  checked: boolean;
  disabled: boolean;
  onChange: () => void;
  className?: string;
}): JSX.Element {
  return (
    <label
      className={`jp-CoffeaCasa-record ${props.className ?? ''}`.trim()}
      title={props.title}
    >
      <input
        type="checkbox"
        checked={props.checked}
        disabled={props.disabled}
        onChange={props.onChange}
      />
      {props.label}
    </label>
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
 * Why its jobs wait, once they have waited the site's threshold: the pool's
 * analysis in one line, and Diagnose for all of it.
 */
function IdleReason(props: {
  cluster: IClusterModel;
  onDiagnose: (job: string) => void;
}): JSX.Element | null {
  const queue = props.cluster.queue;
  if (!queue?.idle_reason) {
    return null;
  }
  const job = queue.idle_job;
  return (
    <div className="jp-CoffeaCasa-idleReason" role="status">
      <span title={queue.idle_reason}>{queue.idle_reason}</span>
      {job && (
        <button
          className="jp-CoffeaCasa-link"
          onClick={event => {
            event.stopPropagation();
            props.onDiagnose(job);
          }}
          title={`The pool's whole analysis of job ${job} (condor_q -better-analyze)`}
        >
          Diagnose
        </button>
      )}
    </div>
  );
}

/**
 * `awkward: kernel 2.6.1 · workers 0.0.1 (2), not installed (1)`; the
 * scheduler only where it says something else than the kernel.
 */
export function mismatchText(m: IPackageMismatch): string {
  const workers = Object.entries(m.workers)
    .map(([version, n]) => `${version} (${n})`)
    .join(', ');
  const sides = [
    m.kernel ? `kernel ${m.kernel}` : null,
    m.scheduler && m.scheduler !== m.kernel ? `scheduler ${m.scheduler}` : null,
    `workers ${workers}`
  ].filter(Boolean);
  return `${m.package}: ${sides.join(' · ')}`;
}

/** The kernel's versions to install on the workers (not Python: that is the image's). */
export function requirementsFor(mismatches: IPackageMismatch[]): string[] {
  return mismatches
    .filter(m => m.package !== 'python' && m.kernel && !m.kernel.includes(','))
    .map(m =>
      m.kernel === 'not installed' ? null : `${m.package}==${m.kernel}`
    )
    .filter((r): r is string => r !== null);
}

/**
 * Packages whose versions differ between the kernel, the scheduler and the
 * workers (a deserialization error waiting to happen), and the remedies of
 * the docs' chapter 2.
 */
function EnvironmentWarning(props: {
  cluster: IClusterModel;
  onInstallPackages: (packages: string[]) => void;
}): JSX.Element | null {
  const mismatches = props.cluster.environment?.mismatches ?? [];
  if (!mismatches.length) {
    return null;
  }
  const requirements = requirementsFor(mismatches);
  const python = mismatches.some(m => m.package === 'python');
  return (
    <div className="jp-CoffeaCasa-envWarning" role="alert">
      <div className="jp-CoffeaCasa-envTitle">
        Packages differ between the kernel and the workers:
      </div>
      <ul>
        {mismatches.map(m => (
          <li key={m.package} data-package={m.package}>
            {mismatchText(m)}
          </li>
        ))}
      </ul>
      <div className="jp-CoffeaCasa-envRemedy">
        {python &&
          'Python differs: choose a worker image with the kernel’s Python. '}
        Put the packages in ~/requirements.txt (new workers install them), or{' '}
        <button
          className="jp-CoffeaCasa-link"
          onClick={event => {
            event.stopPropagation();
            props.onInstallPackages(requirements);
          }}
          title="pip install on the running workers (distributed's PipInstall)"
        >
          Install packages on workers…
        </button>
      </div>
    </div>
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
