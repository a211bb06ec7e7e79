/**
 * Work on a running cluster's workers: record a performance report, install
 * packages, send a file.
 */
import { Notification } from '@jupyterlab/apputils';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { showPackagesDialog } from '../sidebar';
import { ICommandContext, noCluster } from './context';
import { CommandIDs } from './ids';

export function registerWorkerCommands(ctx: ICommandContext): void {
  const { app } = ctx;
  app.commands.addCommand(CommandIDs.toggleReport, report(ctx));
  app.commands.addCommand(CommandIDs.installPackages, install(ctx));
  app.commands.addCommand(CommandIDs.sendFile, send(ctx));
  app.contextMenu.addItem({
    command: CommandIDs.sendFile,
    selector: '.jp-DirListing-item[data-file-type="python"]',
    rank: 50
  });
}

function report(ctx: ICommandContext): CommandRegistry.ICommandOptions {
  const { app, model, target } = ctx;
  return {
    label: 'Record Performance Report',
    caption:
      'Record a Dask performance report; stopping saves it and opens it in a tab',
    isEnabled: ctx.isRunning,
    isToggled: args => !!target(args)?.recording,
    execute: ctx.forCluster(async cluster => {
      if (!cluster.recording) {
        return model.startReport(cluster.id);
      }
      const saved = await model.stopReport(cluster.id);
      if (saved?.path) {
        const widget = await app.commands.execute('docmanager:open', {
          path: saved.path,
          factory: 'HTML Viewer'
        });
        // Dask's own report of the user's cluster: trusted (the HTML viewer's
        // `trusted`), so its plots (bokeh scripts, inline in the file) run.
        const viewer = widget as { trusted?: boolean } | undefined;
        if (viewer && 'trusted' in viewer) {
          viewer.trusted = true;
        }
        return widget;
      }
      if (saved) {
        Notification.info(`Performance report saved to ${saved.file}`, {
          autoClose: false
        });
      }
    })
  };
}

function install(ctx: ICommandContext): CommandRegistry.ICommandOptions {
  const { model } = ctx;
  return {
    label: 'Install Packages on Dask Workers…',
    caption: "pip install requirements on the cluster's workers (PipInstall)",
    isEnabled: ctx.isRunning,
    execute: ctx.forCluster(async (cluster, args) => {
      // `packages`: install these; `suggested`: ask, with these filled in (the card's
      // warning of packages that differ between the kernel and the workers)
      const packages = Array.isArray(args.packages)
        ? (args.packages as string[])
        : await showPackagesDialog(
            cluster,
            Array.isArray(args.suggested) ? (args.suggested as string[]) : []
          );
      if (!packages) {
        return false;
      }
      const done = await model.installPackages(cluster.id, packages);
      if (done) {
        Notification.success(
          `Installed on the workers of ${cluster.name}: ${packages.join(', ')}`,
          { autoClose: 5000 }
        );
      }
      return done;
    })
  };
}

function send(ctx: ICommandContext): CommandRegistry.ICommandOptions {
  const { model, target } = ctx;
  /** The `path` argument, or the .py file selected in the file browser. */
  const fileOf = (args: ReadonlyPartialJSONObject): string | null => {
    if (typeof args.path === 'string' && args.path) {
      return args.path;
    }
    const browser = ctx.browsers?.tracker.currentWidget;
    const item = browser ? browser.selectedItems().next() : undefined;
    return item && !item.done && item.value.type !== 'directory'
      ? item.value.path
      : null;
  };
  return {
    label: 'Send File to Dask Workers',
    caption:
      "upload_file: the selected cluster's workers can import this module",
    execute: async args => {
      const path = fileOf(args);
      if (!model.loaded) {
        await model.refresh(); // the sidebar may never have been opened
      }
      const cluster = target(args);
      if (cluster?.status !== 'running') {
        return noCluster();
      }
      if (!path) {
        Notification.warning('Choose a .py file in the file browser first.', {
          autoClose: 5000
        });
        return false;
      }
      const done = await model.sendFile(cluster.id, path);
      if (done) {
        Notification.success(`Sent ${path} to the workers of ${cluster.name}`, {
          autoClose: 5000
        });
      }
      return done;
    }
  };
}
