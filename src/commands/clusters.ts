/**
 * The cluster list and its clusters: show the sidebar, start, refresh,
 * scale, shut down, and dismiss a lost one.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { IClusterModel } from '../api';
import { showScaleDialog } from '../sidebar';
import { ICommandContext } from './context';
import { CommandIDs } from './ids';

export function registerClusterCommands(ctx: ICommandContext): void {
  const { app, model, sidebar } = ctx;
  const { commands } = app;

  commands.addCommand(CommandIDs.openSidebar, {
    label: 'Show Dask Clusters',
    caption: 'Open the Dask clusters (coffea-casa) sidebar',
    execute: () => app.shell.activateById(sidebar.id)
  });

  commands.addCommand(CommandIDs.newCluster, {
    label: 'New Dask Cluster',
    caption: 'Start a new Dask cluster from the configured factory',
    isEnabled: () => !model.starting,
    execute: () => model.startCluster()
  });

  commands.addCommand(CommandIDs.refresh, {
    label: 'Refresh Dask Clusters',
    execute: () => model.refresh()
  });

  commands.addCommand(CommandIDs.scaleCluster, scale(ctx));
  commands.addCommand(CommandIDs.shutdownCluster, shutdown(ctx));

  const isLost = (args: ReadonlyPartialJSONObject) =>
    ctx.target(args)?.status === 'lost';
  commands.addCommand(CommandIDs.dismissCluster, {
    label: 'Dismiss Lost Dask Cluster',
    caption: 'Remove a cluster whose process is gone from the list',
    isEnabled: isLost,
    isVisible: isLost,
    execute: ctx.forCluster(cluster => model.dismiss(cluster.id))
  });
}

function scale(ctx: ICommandContext): CommandRegistry.ICommandOptions {
  const { model } = ctx;
  return {
    label: 'Scale Dask Cluster…',
    caption: 'Set the number of workers, or make the cluster adaptive',
    isEnabled: ctx.isRunning,
    execute: ctx.forCluster(async cluster => {
      const request = await showScaleDialog(cluster);
      if (!request) {
        return;
      }
      if ('workers' in request) {
        await model.scale(cluster.id, request.workers);
      } else {
        await model.adapt(cluster.id, request.adapt);
      }
    })
  };
}

function shutdown(ctx: ICommandContext): CommandRegistry.ICommandOptions {
  const { model, target } = ctx;
  return {
    label: 'Shut Down Dask Cluster…',
    caption: 'Close the cluster, its workers and its batch jobs',
    isEnabled: args => {
      const cluster = target(args);
      return !!cluster && cluster.status !== 'lost';
    },
    execute: ctx.forCluster(async cluster => {
      const result = await showDialog({
        title: `Shut down ${cluster.name}?`,
        body: shutdownWarning(cluster),
        buttons: [
          Dialog.cancelButton(),
          Dialog.warnButton({ label: 'Shut Down', ariaLabel: 'Shut Down' })
        ]
      });
      if (result.button.accept) {
        await model.shutdown(cluster.id);
      }
    })
  };
}

/** What shutting `cluster` down stops, for the confirm dialog. */
function shutdownWarning(cluster: IClusterModel): string {
  const workers = `${cluster.workers} worker(s)`;
  if (cluster.kind === 'kernel') {
    const notebook = cluster.where
      ? `the notebook ${cluster.where}`
      : 'a notebook';
    return (
      `This cluster belongs to ${notebook}. Closing it stops the ` +
      `notebook's cluster and its ${workers}: the notebook loses its work ` +
      'in progress.'
    );
  }
  return (
    `Its ${workers} stop and every client connected ` +
    'to it loses its work in progress.'
  );
}
