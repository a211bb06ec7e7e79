import { Notification } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  adaptCluster,
  ApiError,
  errorMessage as message,
  IAdaptModel,
  IClusterModel,
  IClusterOption,
  IDashboardPlot,
  INewClusterOptions,
  installPackages,
  IReportLocation,
  keepCluster,
  listClusterOptions,
  listClusters,
  listDashboardPlots,
  scaleCluster,
  sendFile,
  startCluster,
  startReport,
  stopCluster,
  stopReport
} from '../api';

/** Default time between two refreshes of the cluster list, in ms. */
export const DEFAULT_POLL_INTERVAL = 2000;

/** Shown (greyed) until a dashboard has told us its plots. */
const USUAL_PLOTS: ReadonlyArray<IDashboardPlot> = [
  'Cluster Memory',
  'Graph',
  'Nprocessing',
  'Progress',
  'Task Stream',
  'Workers',
  'Workers Memory'
].map(label => ({
  label,
  path: `individual-${label.toLowerCase().replace(/ /g, '-')}`
}));

/**
 * What the dashboard of the selected cluster offers: its plots, and whether
 * it answers right now.
 */
export interface IDashboardState {
  clusterId: string | null;
  active: boolean;
  plots: ReadonlyArray<IDashboardPlot>;
}

/**
 * The cluster list shown in the sidebar, refreshed by polling the server,
 * with the selected cluster and its dashboard, and the cluster actions.
 *
 * It polls only while the sidebar is visible (and the browser tab is not
 * hidden), and backs off while the server answers with errors.
 */
export class ClusterListModel {
  constructor(options: ClusterListModel.IOptions = {}) {
    this.serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
    this._poll = new Poll({
      auto: false,
      factory: () => this._fetch(),
      frequency: frequency(options.pollInterval ?? DEFAULT_POLL_INTERVAL),
      name: 'coffea-casa-lab:clusters',
      standby: () => (this._visible || this._keepAlive ? 'when-hidden' : true)
    });
    void this._poll.start();
  }

  readonly serverSettings: ServerConnection.ISettings;

  /** Emitted whenever clusters, errors, selection or busy state change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get clusters(): ReadonlyArray<IClusterModel> {
    return this._clusters;
  }

  /** Why the list could not be fetched, or null when the last fetch worked. */
  get error(): string | null {
    return this._error;
  }

  /** Why the last global action (like starting a cluster) failed, or null. */
  get actionError(): string | null {
    return this._actionError;
  }

  /** Why the last action on a cluster failed, or undefined. */
  cardError(id: string): string | undefined {
    return this._cardErrors.get(id);
  }

  /** Whether an action on this cluster is in flight. */
  isBusy(id: string): boolean {
    return this._busy.has(id);
  }

  /** Whether the server has answered at least once (with data or an error). */
  get loaded(): boolean {
    return this._loaded;
  }

  /** Whether a new cluster is being requested. */
  get starting(): boolean {
    return this._starting;
  }

  get pollInterval(): number {
    return this._poll.frequency.interval;
  }
  set pollInterval(ms: number) {
    this._poll.frequency = frequency(ms);
  }

  /** Set by the sidebar: polling stands by while it is hidden. */
  get visible(): boolean {
    return this._visible;
  }
  set visible(value: boolean) {
    this._visible = value;
    if (value) {
      void this.refresh();
    }
  }

  /**
   * Keep polling while the sidebar is hidden (dashboard panes or the jobs
   * view are open).
   */
  set keepAlive(value: boolean) {
    if (value !== this._keepAlive) {
      this._keepAlive = value;
      if (value) {
        void this.refresh();
      }
    }
  }

  /** The selected cluster (whose dashboard the buttons open), if any. */
  get selected(): IClusterModel | null {
    return this._clusters.find(c => c.id === this._selectedId) ?? null;
  }

  /** Select the cluster whose dashboard and jobs the sidebar shows. */
  select(id: string): void {
    if (id === this._selectedId) {
      return;
    }
    this._selectedId = id;
    this._changed.emit();
    void this._checkDashboard();
  }

  get dashboard(): IDashboardState {
    return this._dashboard;
  }

  /** Emitted when the selected cluster's dashboard becomes active or not. */
  get dashboardChanged(): ISignal<this, IDashboardState> {
    return this._dashboardChanged;
  }

  find(id: string): IClusterModel | null {
    return this._clusters.find(c => c.id === id) ?? null;
  }

  /** Refresh the list now. */
  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  /**
   * The cluster options the site offers; none where the server has no such
   * route (an older server), so that + NEW still starts a cluster.
   */
  async clusterOptions(): Promise<IClusterOption[]> {
    try {
      return await listClusterOptions(this.serverSettings);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        return [];
      }
      throw error;
    }
  }

  /**
   * Ask the server for a new cluster (by default with the site's defaults).
   * A request it refuses (400: a value outside the site's limits) is thrown,
   * for the form to show; other failures are notified.
   */
  async startCluster(
    request: INewClusterOptions = {}
  ): Promise<IClusterModel | null> {
    if (this._starting) {
      return null;
    }
    this._starting = true;
    this._actionError = null;
    this._changed.emit();
    let cluster: IClusterModel | null = null;
    try {
      cluster = await startCluster(request, this.serverSettings);
      this._selectedId = cluster.id;
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) {
        throw error;
      }
      this._actionError = `Could not start a cluster: ${message(error)}`;
      Notification.error(this._actionError, { autoClose: 8000 });
    } finally {
      this._starting = false;
      this._changed.emit();
    }
    await this.refresh();
    return cluster;
  }

  /** Scale to a fixed number of workers. */
  scale(id: string, workers: number): Promise<boolean> {
    return this._act(id, 'scale', () =>
      scaleCluster(id, workers, this.serverSettings)
    );
  }

  /** Make the cluster adaptive. */
  adapt(id: string, adapt: IAdaptModel): Promise<boolean> {
    return this._act(id, 'make adaptive', () =>
      adaptCluster(id, adapt, this.serverSettings)
    );
  }

  /** Keep the cluster running when the server stops, or not. */
  keep(id: string, keep: boolean): Promise<boolean> {
    return this._act(id, keep ? 'keep' : 'stop keeping', () =>
      keepCluster(id, keep, this.serverSettings)
    );
  }

  /** Install pip requirements on the workers (they install before this resolves). */
  installPackages(id: string, packages: string[]): Promise<boolean> {
    return this._act(id, 'install packages on', () =>
      installPackages(id, packages, this.serverSettings)
    );
  }

  /** Send a file (relative to the server's root folder) to the workers. */
  sendFile(id: string, path: string): Promise<boolean> {
    return this._act(id, `send ${path} to`, () =>
      sendFile(id, path, this.serverSettings)
    );
  }

  /** Start recording a performance report. */
  startReport(id: string): Promise<boolean> {
    return this._act(id, 'start recording on', () =>
      startReport(id, this.serverSettings)
    );
  }

  /** Stop recording; where the report was saved, or null if that failed. */
  async stopReport(id: string): Promise<IReportLocation | null> {
    let saved: IReportLocation | null = null;
    await this._act(id, 'save the performance report of', async () => {
      saved = await stopReport(id, this.serverSettings);
      return { ...(this.find(id) as IClusterModel), recording: false };
    });
    return saved;
  }

  /** Shut the cluster down. */
  shutdown(id: string): Promise<boolean> {
    return this._remove(id, 'shut down');
  }

  /** Take a lost cluster (its process died) off the list. */
  dismiss(id: string): Promise<boolean> {
    return this._remove(id, 'dismiss');
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  /** Close the cluster (DELETE) and drop its card. */
  private async _remove(id: string, verb: string): Promise<boolean> {
    const done = await this._act(id, verb, () =>
      stopCluster(id, this.serverSettings)
    );
    if (done) {
      this._clusters = this._clusters.filter(c => c.id !== id);
      this._changed.emit();
    }
    return done;
  }

  private async _act(
    id: string,
    verb: string,
    action: () => Promise<IClusterModel>
  ): Promise<boolean> {
    this._busy.add(id);
    this._cardErrors.delete(id);
    this._changed.emit();
    let done = false;
    try {
      const updated = await action();
      this._clusters = this._clusters.map(c => (c.id === id ? updated : c));
      done = true;
    } catch (error) {
      const name = this.find(id)?.name ?? id;
      const text = `Could not ${verb} ${name}: ${message(error)}`;
      this._cardErrors.set(id, text);
      Notification.error(text, { autoClose: 8000 });
    } finally {
      this._busy.delete(id);
      this._changed.emit();
    }
    await this.refresh();
    return done;
  }

  private async _fetch(): Promise<void> {
    try {
      this._clusters = await listClusters(this.serverSettings);
      this._error = null;
      this._loaded = true;
    } catch (error) {
      this._error = message(error);
      this._loaded = true;
      this._changed.emit();
      throw error; // Makes the poll back off.
    }
    if (!this.selected) {
      const first =
        this._clusters.find(c => c.status === 'running') ??
        this._clusters[0] ??
        null;
      this._selectedId = first?.id ?? null;
    }
    this._changed.emit();
    await this._checkDashboard();
  }

  /**
   * Ask the selected cluster's dashboard for its plots: it is active when it
   * answers. Asked again when the selection or the cluster's status changes,
   * and on every poll while it does not answer.
   */
  private async _checkDashboard(): Promise<void> {
    const cluster = this.selected;
    const key = cluster ? `${cluster.id}:${cluster.status}` : '';
    const current = this._dashboard;
    if (key === this._dashboardKey && (current.active || !cluster)) {
      return;
    }
    this._dashboardKey = key;
    let next: IDashboardState;
    if (!cluster || cluster.status !== 'running') {
      next = { clusterId: cluster?.id ?? null, active: false, plots: [] };
    } else {
      try {
        const plots = await listDashboardPlots(cluster.id, this.serverSettings);
        next = { clusterId: cluster.id, active: plots.length > 0, plots };
      } catch {
        next = { clusterId: cluster.id, active: false, plots: [] };
      }
    }
    if (this._dashboardKey !== key) {
      return; // the selection changed meanwhile
    }
    if (!next.plots.length) {
      // Keep the buttons, greyed: the last known plots, or the usual ones.
      next = {
        ...next,
        plots: current.plots.length ? current.plots : USUAL_PLOTS
      };
    }
    const changed =
      next.active !== current.active ||
      next.clusterId !== current.clusterId ||
      next.plots.length !== current.plots.length;
    this._dashboard = next;
    if (changed) {
      this._dashboardChanged.emit(next);
      this._changed.emit();
    }
  }

  private _actionError: string | null = null;
  private _busy = new Set<string>();
  private _cardErrors = new Map<string, string>();
  private _changed = new Signal<this, void>(this);
  private _clusters: IClusterModel[] = [];
  private _dashboard: IDashboardState = {
    clusterId: null,
    active: false,
    plots: USUAL_PLOTS
  };
  private _dashboardChanged = new Signal<this, IDashboardState>(this);
  private _dashboardKey = '';
  private _error: string | null = null;
  private _keepAlive = false;
  private _loaded = false;
  private _poll: Poll;
  private _selectedId: string | null = null;
  private _starting = false;
  private _visible = false;
}

export namespace ClusterListModel {
  export interface IOptions {
    serverSettings?: ServerConnection.ISettings;
    /** Time between two refreshes, in ms. */
    pollInterval?: number;
  }
}

function frequency(interval: number) {
  const ms = Math.max(250, interval);
  return { interval: ms, backoff: true, max: Math.max(30000, ms) };
}
