import { ServerConnection } from '@jupyterlab/services';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Poll } from '@lumino/polling';
import * as React from 'react';

import { errorMessage, IJobModel, listJobs } from '../api';
import { PaneHeader } from './PaneHeader';

/**
 * The batch jobs (HTCondor jobs, or local worker processes) of one cluster:
 * id, status, host, start time and worker name, with Logs and Kill. It
 * refreshes while visible. What `condor_q`, `condor_ssh_to_job` and
 * `condor_rm` give in a terminal.
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
            No jobs: this cluster has no workers right now. Scale it up from the
            Dask clusters sidebar.
          </p>
        )}
        {jobs !== null && jobs.length > 0 && (
          <table className="jp-CoffeaCasa-jobsTable">
            <thead>
              <tr>
                <th>Job</th>
                <th>Status</th>
                <th>Host</th>
                <th>Started</th>
                <th>Worker</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {jobs.map(job => (
                <tr key={job.id} data-job-id={job.id}>
                  <td className="jp-CoffeaCasa-jobId">{job.id}</td>
                  <td>
                    <span
                      className={`jp-CoffeaCasa-jobStatus jp-mod-${job.status}`}
                    >
                      {job.status}
                    </span>
                    {job.hold_reason && (
                      <div
                        className="jp-CoffeaCasa-holdReason"
                        title={job.hold_reason}
                      >
                        {job.hold_reason}
                      </div>
                    )}
                  </td>
                  <td>{job.host ?? '—'}</td>
                  <td>{formatTime(job.start_time)}</td>
                  <td className="jp-CoffeaCasa-jobWorker">
                    {job.worker_name ?? '—'}
                  </td>
                  <td className="jp-CoffeaCasa-jobActions">
                    <div>
                      <JobActions job={job} {...this._actions} />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
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
  onShell: (job: IJobModel) => void;
  onKill: (job: IJobModel) => void;
  onRelease: (job: IJobModel) => void;
}

/** Logs always; Release and Remove for a held job; Shell and Kill otherwise. */
function JobActions(props: IJobActions & { job: IJobModel }): JSX.Element {
  const { job } = props;
  const held = job.status === 'held';
  const button = (label: string, style: string, onClick: () => void) => (
    <button
      key={label}
      className={`jp-Button jp-mod-styled ${style}`}
      onClick={onClick}
    >
      {label}
    </button>
  );
  return (
    <>
      {button('Logs', 'jp-mod-reject', () => props.onLogs(job))}
      {job.status === 'running' &&
        button('Shell', 'jp-mod-reject', () => props.onShell(job))}
      {held && button('Release', 'jp-mod-accept', () => props.onRelease(job))}
      {button(held ? 'Remove' : 'Kill', 'jp-mod-warn', () => props.onKill(job))}
    </>
  );
}

/** Unix seconds or ISO text as a local date and time. */
export function formatTime(value: IJobModel['start_time']): string {
  if (value === null || value === undefined || value === '') {
    return '—';
  }
  const date =
    typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}
