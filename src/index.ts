import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, WidgetTracker } from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { CommandIDs, registerCommands } from './commands';
import { DashboardPane } from './dashboard';
import {
  ClusterListModel,
  ClusterSidebar,
  DEFAULT_POLL_INTERVAL,
  NewClusterPreferences
} from './sidebar';

const PLUGIN_ID = 'coffea-casa-lab:plugin';

/**
 * The coffea-casa-lab plugin: wiring only.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Dask clusters on coffea-casa (HTCondor or local) in the sidebar.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    ICommandPalette,
    ISettingRegistry,
    INotebookTracker,
    IFileBrowserFactory
  ],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    notebooks: INotebookTracker | null,
    browsers: IFileBrowserFactory | null
  ) => {
    const model = new ClusterListModel({
      serverSettings: app.serviceManager.serverSettings
    });
    const sidebar = new ClusterSidebar({ model, commands: app.commands });
    const panes = new WidgetTracker<DashboardPane>({
      namespace: 'coffea-casa-dashboard'
    });
    const preferences = new NewClusterPreferences();
    registerCommands(app, {
      model,
      sidebar,
      palette,
      notebooks,
      panes,
      browsers,
      preferences
    });

    app.shell.add(sidebar, 'left', { rank: 200 });
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
      void restorer.restore(panes, {
        command: CommandIDs.openDashboardPlot,
        args: pane => ({
          id: pane.clusterId,
          path: pane.path,
          label: pane.title.label
        }),
        name: pane => pane.path
      });
    }
    // Dashboard panes need the list fresh even while the sidebar is closed.
    panes.widgetAdded.connect((_, pane) => {
      model.keepAlive = true;
      pane.disposed.connect(
        () =>
          void Promise.resolve().then(() => (model.keepAlive = panes.size > 0))
      );
    });

    // A pane whose cluster has closed says so (see DashboardPane.clusterGone).
    model.changed.connect(() => {
      if (!model.loaded || model.error) {
        return;
      }
      panes.forEach(pane => {
        const cluster = model.find(pane.clusterId);
        pane.clusterGone =
          !cluster || cluster.status === 'lost' || cluster.status === 'failed';
      });
    });

    const defaultPanes = openDefaultPanes(app, model);
    if (settingRegistry) {
      loadSettings(settingRegistry, settings => {
        const interval = settings.get('pollInterval').composite as number;
        model.pollInterval = interval ?? DEFAULT_POLL_INTERVAL;
        defaultPanes.labels =
          (settings.get('defaultPanes').composite as string[]) ?? [];
        sidebar.hideClusterManager =
          !!settings.get('hideClusterManager').composite;
        preferences.settings = settings;
      });
    }
  }
};

/** Apply the plugin's settings now and whenever they change. */
function loadSettings(
  registry: ISettingRegistry,
  apply: (settings: ISettingRegistry.ISettings) => void
): void {
  registry
    .load(PLUGIN_ID)
    .then(settings => {
      apply(settings);
      settings.changed.connect(apply);
    })
    .catch(reason =>
      console.error(`${PLUGIN_ID}: could not load settings`, reason)
    );
}

/**
 * Setting `defaultPanes`: the plots (by label) opened when a cluster's
 * dashboard first answers.
 */
function openDefaultPanes(
  app: JupyterFrontEnd,
  model: ClusterListModel
): { labels: string[] } {
  const wanted = { labels: [] as string[] };
  const opened = new Set<string>();
  model.dashboardChanged.connect((_, dashboard) => {
    const id = dashboard.clusterId;
    if (!dashboard.active || !id || opened.has(id) || !wanted.labels.length) {
      return;
    }
    opened.add(id);
    for (const plot of dashboard.plots) {
      if (wanted.labels.includes(plot.label)) {
        void app.commands.execute(CommandIDs.openDashboardPlot, {
          id,
          path: plot.path,
          label: plot.label
        });
      }
    }
  });
  return wanted;
}

export default plugin;
