import { ServerConnection } from '@jupyterlab/services';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { IClusterModel, listClusters, startCluster } from '../api';

/** Default time between two refreshes of the cluster list, in ms. */
export const DEFAULT_POLL_INTERVAL = 2000;

/**
 * The cluster list shown in the sidebar, refreshed by polling the server.
 *
 * It polls only while the sidebar is visible (and the browser tab is not
 * hidden), and backs off while the server answers with errors.
 */
export class ClusterListModel {
  constructor(options: ClusterListModel.IOptions = {}) {
    this._settings = options.serverSettings ?? ServerConnection.makeSettings();
    this._poll = new Poll({
      auto: false,
      factory: () => this._fetch(),
      frequency: frequency(options.pollInterval ?? DEFAULT_POLL_INTERVAL),
      name: 'coffea-casa-lab:clusters',
      standby: () => (this._visible ? 'when-hidden' : true)
    });
    void this._poll.start();
  }

  /** Emitted whenever clusters, error or busy state change. */
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

  /** Why the last action (like starting a cluster) failed, or null. */
  get actionError(): string | null {
    return this._actionError;
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

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /** Refresh the list now. */
  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  /** Ask the server for a new cluster with its default options. */
  async startCluster(): Promise<void> {
    if (this._starting) {
      return;
    }
    this._starting = true;
    this._actionError = null;
    this._changed.emit();
    try {
      await startCluster({}, this._settings);
    } catch (error) {
      this._actionError = `Could not start a cluster: ${message(error)}`;
    } finally {
      this._starting = false;
      this._changed.emit();
    }
    await this.refresh();
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
    try {
      this._clusters = await listClusters(this._settings);
      this._error = null;
      this._loaded = true;
      this._changed.emit();
    } catch (error) {
      this._error = message(error);
      this._loaded = true;
      this._changed.emit();
      throw error; // Makes the poll back off.
    }
  }

  private _actionError: string | null = null;
  private _changed = new Signal<this, void>(this);
  private _clusters: IClusterModel[] = [];
  private _error: string | null = null;
  private _loaded = false;
  private _poll: Poll;
  private _settings: ServerConnection.ISettings;
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

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
