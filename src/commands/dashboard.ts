/**
 * The Dask dashboard: one plot in a pane of the main area, or the whole
 * dashboard in a browser tab.
 */
import { URLExt } from '@jupyterlab/coreutils';

import { DashboardPane } from '../dashboard';
import { ICommandContext } from './context';
import { CommandIDs } from './ids';

export function registerDashboardCommands(ctx: ICommandContext): void {
  const { app, model, panes } = ctx;
  const baseUrl = app.serviceManager.serverSettings.baseUrl;

  app.commands.addCommand(CommandIDs.openDashboardPlot, {
    label: args => `Open Dask ${args.label ?? 'Dashboard Plot'}`,
    caption: 'Open a plot of the Dask dashboard in a pane',
    execute: args => {
      const path = String(args.path ?? '');
      const open = panes.find(pane => pane.id === DashboardPane.idFor(path));
      if (open) {
        app.shell.activateById(open.id);
        return open;
      }
      const clusterId = String(args.id ?? '');
      const pane = new DashboardPane({
        baseUrl,
        clusterId,
        clusterName: model.find(clusterId)?.name ?? clusterId,
        label: String(args.label ?? path),
        path
      });
      void panes.add(pane);
      app.shell.add(pane, 'main', {
        mode: panes.size > 1 ? 'tab-after' : 'split-right'
      });
      app.shell.activateById(pane.id);
      return pane;
    }
  });

  app.commands.addCommand(CommandIDs.openDashboard, {
    label: 'Open Dask Dashboard in a Browser Tab',
    isEnabled: ctx.isRunning,
    execute: ctx.forCluster(cluster => {
      window.open(URLExt.join(baseUrl, cluster.dashboard_url, 'status'));
    })
  });
}
