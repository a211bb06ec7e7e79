import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { CommandIDs, PALETTE_CATEGORY } from './commands';
import { coffeaCasaIcon } from './icons';
import {
  ClusterListModel,
  ClusterSidebar,
  DEFAULT_POLL_INTERVAL
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
  optional: [ILayoutRestorer, ICommandPalette, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const model = new ClusterListModel({
      serverSettings: app.serviceManager.serverSettings
    });
    const sidebar = new ClusterSidebar({ model, commands: app.commands });

    app.commands.addCommand(CommandIDs.openSidebar, {
      label: 'Show Dask Clusters',
      caption: 'Open the Dask clusters (coffea-casa) sidebar',
      icon: args => (args.isPalette ? undefined : coffeaCasaIcon),
      execute: () => app.shell.activateById(sidebar.id)
    });
    app.commands.addCommand(CommandIDs.newCluster, {
      label: 'New Dask Cluster',
      caption: 'Start a new Dask cluster',
      isEnabled: () => !model.starting,
      execute: () => model.startCluster()
    });
    if (palette) {
      for (const command of [CommandIDs.openSidebar, CommandIDs.newCluster]) {
        palette.addItem({ command, category: PALETTE_CATEGORY });
      }
    }

    app.shell.add(sidebar, 'left', { rank: 200 });
    restorer?.add(sidebar, sidebar.id);

    if (settingRegistry) {
      const apply = (settings: ISettingRegistry.ISettings) => {
        const interval = settings.get('pollInterval').composite as number;
        model.pollInterval = interval ?? DEFAULT_POLL_INTERVAL;
      };
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          apply(settings);
          settings.changed.connect(apply);
        })
        .catch(reason =>
          console.error(`${PLUGIN_ID}: could not load settings`, reason)
        );
    }
  }
};

export default plugin;
