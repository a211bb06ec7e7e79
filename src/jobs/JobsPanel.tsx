import { ServerConnection } from '@jupyterlab/services';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Poll } from '@lumino/polling';
import * as React from 'react';

import { errorMessage, IJobModel, listJobs } from '../api';
import { PaneHeader } from './PaneHeader';

/**
 * The batch jobs (HTCondor jobs, or local worker processes) of one cluster,
 * each with its story: submitted, idle since, running since, evicted, and
 * how it ended, for the jobs still queued and, below them, those that left
 * the queue (within the site's bound). Logs for every job (ended ones too),
 * Diagnose for an idle one, Shell, Release and Kill/Remove. It refreshes
 * while visible. What `condor_q`, `condor_history`, `condor_q
 * -better-analyze`, `condor_ssh_to_job` and `condor_rm` give in a terminal.
 */
export class JobsPanel extends ReactWidget {
  constructor(options: JobsPanel.IOptions) {
    super();
    this.clusterId = options.clusterId;
    this._options = options;
    this.addClass('jp-CoffeaCasa-jobsPanel');
    this._poll = new Poll({
      auto: false,
      factory: () => this._fetch(),
      frequency: { interval: options.interval ?? 2000, backoff: true },
      name: `coffea-casa-lab:jobs:${options.clusterId}`,
      standby: () => (this.isVisible ? 'when-hidden' : true)
    });
  }

  readonly clusterId: string;

  /** Fetch the jobs now. */
  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  dispose(): void {
    this._poll.dispose();
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this._poll.state.phase === 'constructed') {
      void this._poll.start();
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.refresh();
  }

  render(): JSX.Element {
    const jobs = this._jobs;
    return (
      <div className="jp-CoffeaCasa-jobs">
        <PaneHeader
          title={`Jobs · ${this._options.clusterName()}`}
          button="Refresh"
          onReload={() => void this.refresh()}
          error={this._error}
          loading={jobs === null ? 'Loading jobs…' : null}
        />
        {jobs !== null && jobs.length === 0 && (
          <p className="jp-CoffeaCasa-empty">
            No jobs: this cluster has had no workers yet. Scale it up from the
            Dask clusters sidebar.
          </p>
        )}
        {jobs !== null && jobs.length > 0 && (
          // its own horizontal scroll, so that the actions column stays in sight (sticky)
          <div className="jp-CoffeaCasa-jobsScroll">
            <table className="jp-CoffeaCasa-jobsTable">
              <thead>
                <tr>
                  <th>Job</th>
                  <th>Status</th>
                  <th>Story</th>
                  <th>Host</th>
                  <th>Worker</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {jobs.map((job, i) => (
                  <React.Fragment key={job.id}>
                    {job.in_queue === false &&
                      (i === 0 || jobs[i - 1].in_queue !== false) && (
                        <tr className="jp-CoffeaCasa-jobsDivider">
                          <th colSpan={6}>
                            Ended: left the queue, or its process ended
                          </th>
                        </tr>
                      )}
                    <JobRow job={job} actions={this._actions} />
                  </React.Fragment>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    );
  }

  /** Each action refreshes the list once done (or declined). */
  private get _actions(): IJobActions {
    const then =
      (action: (job: IJobModel) => Promise<unknown>) => (job: IJobModel) =>
        void action(job).then(() => this.refresh());
    const o = this._options;
    return {
      onLogs: o.onLogs,
      onDiagnose: o.onDiagnose,
      onShell: o.onShell,
      onKill: then(o.onKill),
      onRelease: then(o.onRelease)
    };
  }

  private async _fetch(): Promise<void> {
    try {
      this._jobs = await listJobs(this.clusterId, this._options.serverSettings);
      this._error = null;
    } catch (error) {
      this._error = `Could not list the jobs: ${errorMessage(error)}`;
      this.update();
      throw error;
    }
    this.update();
  }

  private _error: string | null = null;
  private _jobs: IJobModel[] | null = null;
  private _options: JobsPanel.IOptions;
  private _poll: Poll;
}

export namespace JobsPanel {
  export interface IOptions {
    clusterId: string;
    clusterName: () => string;
    serverSettings: ServerConnection.ISettings;
    interval?: number;
    onLogs: (job: IJobModel) => void;
    /** HTCondor: the pool's analysis of an idle job, in a tab. */
    onDiagnose?: (job: IJobModel) => void;
    /** Kill the job (after asking); resolves when done or declined. */
    onKill: (job: IJobModel) => Promise<unknown>;
    /** Release a held job (after asking); resolves when done or declined. */
    onRelease: (job: IJobModel) => Promise<unknown>;
    /** A terminal on the job: condor_ssh_to_job, or the local worker's directory. */
    onShell: (job: IJobModel) => void;
  }
}

interface IJobActions {
  onLogs: (job: IJobModel) => void;
  onDiagnose?: (job: IJobModel) => void;
  onShell: (job: IJobModel) => void;
  onKill: (job: IJobModel) => void;
  onRelease: (job: IJobModel) => void;
}

/** One job: its id, status (and why held, or how it ended), story, host, worker, actions. */
function JobRow(props: { job: IJobModel; actions: IJobActions }): JSX.Element {
  const { job } = props;
  const ended = job.in_queue === false;
  return (
    <tr data-job-id={job.id} className={ended ? 'jp-mod-ended' : undefined}>
      <td className="jp-CoffeaCasa-jobId">{job.id}</td>
      <td className="jp-CoffeaCasa-jobState">
        <span className={`jp-CoffeaCasa-jobStatus jp-mod-${job.status}`}>
          {job.status}
        </span>
        {job.hold_reason && (
          <div className="jp-CoffeaCasa-holdReason" title={job.hold_reason}>
            {job.hold_reason}
          </div>
        )}
        {job.end && (
          <div
            className={`jp-CoffeaCasa-jobEnd jp-mod-${job.end.kind}`}
            title={job.end.reason ?? job.end.text}
          >
            {job.end.text}
          </div>
        )}
      </td>
      <td className="jp-CoffeaCasa-jobStory">
        <JobStory job={job} />
      </td>
      <td>{job.host ?? '—'}</td>
      <td className="jp-CoffeaCasa-jobWorker">{job.worker_name ?? '—'}</td>
      <td className="jp-CoffeaCasa-jobActions">
        <div>
          <JobActions job={job} {...props.actions} />
        </div>
      </td>
    </tr>
  );
}

/** Submitted, idle since, running since, evicted and ended, as far as each applies. */
export function JobStory(props: { job: IJobModel }): JSX.Element {
  const { job } = props;
  const steps: [string, IJobModel['start_time']][] = [
    ['submitted', job.submitted],
    ['idle since', job.idle_since],
    ['running since', job.running_since],
    ['evicted', job.evicted],
    ['ended', job.ended]
  ];
  const shown = steps.filter(
    ([, value]) => value !== null && value !== undefined
  );
  if (!shown.length) {
    return <>{formatTime(job.start_time)}</>;
  }
  return (
    <ul className="jp-CoffeaCasa-story">
      {shown.map(([label, value]) => (
        <li key={label} data-step={label.split(' ')[0]}>
          <span className="jp-CoffeaCasa-storyLabel">{label}</span>{' '}
          <span title={formatTime(value)}>{formatMoment(value)}</span>
        </li>
      ))}
    </ul>
  );
}

/**
 * Logs always; Diagnose for an idle HTCondor job; Release and Remove for a
 * held job; Shell and Kill for a running one; nothing more once it ended.
 */
function JobActions(props: IJobActions & { job: IJobModel }): JSX.Element {
  const { job } = props;
  const held = job.status === 'held';
  const ended = job.in_queue === false;
  const button = (label: string, style: string, onClick: () => void) => (
    <button
      key={label}
      className={`jp-Button jp-mod-styled ${style}`}
      onClick={onClick}
    >
      {label}
    </button>
  );
  const { onDiagnose } = props;
  return (
    <>
      {button('Logs', 'jp-mod-reject', () => props.onLogs(job))}
      {!ended &&
        job.status === 'idle' &&
        onDiagnose &&
        button('Diagnose', 'jp-mod-reject', () => onDiagnose(job))}
      {!ended &&
        job.status === 'running' &&
        button('Shell', 'jp-mod-reject', () => props.onShell(job))}
      {!ended &&
        held &&
        button('Release', 'jp-mod-accept', () => props.onRelease(job))}
      {!ended &&
        button(held ? 'Remove' : 'Kill', 'jp-mod-warn', () =>
          props.onKill(job)
        )}
    </>
  );
}

/** Unix seconds or ISO text as a local date and time. */
/** A time of today as its time of day; another day's with its date. */
export function formatMoment(value: IJobModel['start_time']): string {
  if (typeof value !== 'number') {
    return formatTime(value);
  }
  const date = new Date(value * 1000);
  return date.toDateString() === new Date().toDateString()
    ? date.toLocaleTimeString()
    : date.toLocaleString();
}

export function formatTime(value: IJobModel['start_time']): string {
  if (value === null || value === undefined || value === '') {
    return '—';
  }
  const date =
    typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}
