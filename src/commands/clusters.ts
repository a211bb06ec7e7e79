/**
 * The cluster list and its clusters: show the sidebar, start (with the
 * site's options), refresh, scale, keep, shut down, and dismiss a lost one.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { ApiError, errorMessage, IClusterModel } from '../api';
import {
  initialValues,
  showNewClusterDialog,
  showScaleDialog
} from '../sidebar';
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

  commands.addCommand(CommandIDs.newCluster, newCluster(ctx));

  commands.addCommand(CommandIDs.refresh, {
    label: 'Refresh Dask Clusters',
    execute: () => model.refresh()
  });

  commands.addCommand(CommandIDs.scaleCluster, scale(ctx));
  commands.addCommand(CommandIDs.keepCluster, keep(ctx));
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

/**
 * + NEW: where the site offers options, a form of them (the last choice
 * filled in); a value the server refuses brings the form back with its
 * reason. Where it offers none, one click starts a cluster.
 */
function newCluster(ctx: ICommandContext): CommandRegistry.ICommandOptions {
  const { model, preferences } = ctx;
  return {
    label: 'New Dask Cluster',
    caption: 'Start a new Dask cluster from the configured factory',
    isEnabled: () => !model.starting,
    execute: async () => {
      let options;
      try {
        options = await model.clusterOptions();
      } catch (error) {
        Notification.error(
          `Could not read the site's cluster options: ${errorMessage(error)}`,
          { autoClose: 8000 }
        );
        return;
      }
      if (!options.length) {
        return model.startCluster();
      }
      let values = initialValues(options, preferences.values);
      let problem: string | null = null;
      for (;;) {
        const chosen = await showNewClusterDialog(options, values, problem);
        if (!chosen) {
          return;
        }
        values = chosen;
        try {
          const cluster = await model.startCluster({ options: chosen });
          if (cluster) {
            await preferences.remember(chosen);
          }
          return cluster;
        } catch (error) {
          // refused (a value outside the site's limits): ask again, with the server's reason
          problem =
            error instanceof ApiError && error.detail
              ? error.detail
              : errorMessage(error);
        }
      }
    }
  };
}

/** Keep a sidebar cluster running when the server stops (a toggle). */
function keep(ctx: ICommandContext): CommandRegistry.ICommandOptions {
  const { model, target } = ctx;
  const isSidebar = (args: ReadonlyPartialJSONObject) =>
    (target(args)?.kind ?? 'sidebar') === 'sidebar';
  return {
    label: 'Keep Running When the Server Stops',
    caption:
      'A kept cluster outlives a stop of this Jupyter server; the next server adopts it',
    isToggled: args => !!target(args)?.keep,
    isVisible: isSidebar,
    isEnabled: args =>
      isSidebar(args) &&
      ['running', 'starting'].includes(target(args)?.status ?? ''),
    execute: ctx.forCluster(cluster => model.keep(cluster.id, !cluster.keep))
  };
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
