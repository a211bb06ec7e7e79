/**
 * What every command module needs: the application, the cluster list, and
 * the cluster a command is about.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  ICommandPalette,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { IClusterModel } from '../api';
import { DashboardPane } from '../dashboard';
import {
  ClusterListModel,
  ClusterSidebar,
  NewClusterPreferences
} from '../sidebar';

export interface IActionOptions {
  model: ClusterListModel;
  sidebar: ClusterSidebar;
  palette: ICommandPalette | null;
  notebooks: INotebookTracker | null;
  /** Tracks dashboard panes (for layout restoration). */
  panes: WidgetTracker<DashboardPane>;
  /** For "Send File to Dask Workers" on a file of the file browser. */
  browsers: IFileBrowserFactory | null;
  /** + NEW's last choice of the site's options. */
  preferences: NewClusterPreferences;
}

export interface ICommandContext extends IActionOptions {
  app: JupyterFrontEnd;
  /** The cluster a command is about: its `id` argument, the card right-clicked, or the selected one. */
  target: (args: Args) => IClusterModel | null;
  /** Whether that cluster is running. */
  isRunning: (args: Args) => boolean;
  /** An `execute` that runs `action` on that cluster, or says there is none. */
  forCluster: (action: ClusterAction) => (args: Args) => unknown;
}

type Args = ReadonlyPartialJSONObject;
type ClusterAction = (cluster: IClusterModel, args: Args) => unknown;

export const CARD_CLASS = 'jp-CoffeaCasa-card';

export function commandContext(
  app: JupyterFrontEnd,
  options: IActionOptions
): ICommandContext {
  const { model } = options;
  const target = (args: Args) => {
    let id = typeof args.id === 'string' && args.id ? args.id : null;
    if (!id) {
      const card = app.contextMenuHitTest(node =>
        node.classList.contains(CARD_CLASS)
      );
      id = card?.dataset.clusterId ?? null;
    }
    return id ? model.find(id) : model.selected;
  };
  const isRunning = (args: Args) => target(args)?.status === 'running';
  const forCluster = (action: ClusterAction) => (args: Args) => {
    const cluster = target(args);
    return cluster ? action(cluster, args) : noCluster();
  };
  return { ...options, app, target, isRunning, forCluster };
}

/** Say that no cluster is selected. */
export function noCluster(): void {
  Notification.warning('No Dask cluster selected: start one with + NEW.', {
    autoClose: 5000
  });
}
