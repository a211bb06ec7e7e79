/**
 * The coffea-casa commands, registered once and reused by the palette, the
 * sidebar buttons and the context menus.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Clipboard,
  Dialog,
  ICommandPalette,
  MainAreaWidget,
  Notification,
  showDialog,
  WidgetTracker
} from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { IClusterModel, jobLogs, killJob } from './api';
import { CommandIDs, PALETTE_CATEGORY } from './commands';
import { DashboardPane } from './dashboard';
import { coffeaCasaIcon } from './icons';
import { injectClientCode } from './inject';
import { JobLogsView, JobsPanel } from './jobs';
import {
  ClusterListModel,
  ClusterSidebar,
  showPackagesDialog,
  showScaleDialog
} from './sidebar';

export interface IActionOptions {
  model: ClusterListModel;
  sidebar: ClusterSidebar;
  palette: ICommandPalette | null;
  notebooks: INotebookTracker | null;
  /** Tracks dashboard panes (for layout restoration). */
  panes: WidgetTracker<DashboardPane>;
  /** For "Send File to Dask Workers" on a file of the file browser. */
  browsers: IFileBrowserFactory | null;
}

const CARD_SELECTOR = '.jp-CoffeaCasa-card';

export function registerCommands(
  app: JupyterFrontEnd,
  options: IActionOptions
): void {
  const { model, sidebar, palette, notebooks, panes, browsers } = options;
  const { commands } = app;
  const baseUrl = app.serviceManager.serverSettings.baseUrl;

  /** The cluster a command is about: its `id` argument, the card right-clicked, or the selected one. */
  const target = (args: ReadonlyPartialJSONObject): IClusterModel | null => {
    let id = typeof args.id === 'string' && args.id ? args.id : null;
    if (!id) {
      const card = app.contextMenuHitTest(node =>
        node.classList.contains('jp-CoffeaCasa-card')
      );
      id = card?.dataset.clusterId ?? null;
    }
    return id ? model.find(id) : model.selected;
  };
  const hasTarget = (args: ReadonlyPartialJSONObject) => !!target(args);
  const isRunning = (args: ReadonlyPartialJSONObject) =>
    target(args)?.status === 'running';
  const noCluster = () =>
    Notification.warning('No Dask cluster selected: start one with + NEW.', {
      autoClose: 5000
    });

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

  commands.addCommand(CommandIDs.scaleCluster, {
    label: 'Scale Dask Cluster…',
    caption: 'Set the number of workers, or make the cluster adaptive',
    isEnabled: isRunning,
    execute: async args => {
      const cluster = target(args);
      if (!cluster) {
        return noCluster();
      }
      const request = await showScaleDialog(cluster);
      if (!request) {
        return;
      }
      if ('workers' in request) {
        await model.scale(cluster.id, request.workers);
      } else {
        await model.adapt(cluster.id, request.adapt);
      }
    }
  });

  commands.addCommand(CommandIDs.shutdownCluster, {
    label: 'Shut Down Dask Cluster…',
    caption: 'Close the cluster, its workers and its batch jobs',
    isEnabled: hasTarget,
    execute: async args => {
      const cluster = target(args);
      if (!cluster) {
        return noCluster();
      }
      const result = await showDialog({
        title: `Shut down ${cluster.name}?`,
        body:
          `Its ${cluster.workers} worker(s) stop and every client connected ` +
          'to it loses its work in progress.',
        buttons: [
          Dialog.cancelButton(),
          Dialog.warnButton({ label: 'Shut Down', ariaLabel: 'Shut Down' })
        ]
      });
      if (result.button.accept) {
        await model.shutdown(cluster.id);
      }
    }
  });

  commands.addCommand(CommandIDs.injectClientCode, {
    label: 'Inject Client Connection Code',
    caption: 'Insert TLS client code into the active notebook or console',
    isEnabled: args => !!target(args)?.scheduler_address,
    execute: args => {
      const cluster = target(args);
      if (!cluster) {
        return noCluster();
      }
      const current = app.shell.currentWidget;
      const done =
        injectClientCode(current, cluster) ||
        injectClientCode(notebooks?.currentWidget ?? null, cluster);
      if (!done) {
        Notification.warning(
          'Open a notebook or a console first: the client code goes into it.',
          { autoClose: 5000 }
        );
      }
    }
  });

  commands.addCommand(CommandIDs.copySchedulerAddress, {
    label: 'Copy Scheduler Address',
    isEnabled: args => !!target(args)?.scheduler_address,
    execute: args => {
      const address = target(args)?.scheduler_address;
      if (address) {
        Clipboard.copyToSystem(address);
      }
    }
  });

  commands.addCommand(CommandIDs.openDashboardPlot, {
    label: args => `Open Dask ${args.label ?? 'Dashboard Plot'}`,
    caption: 'Open a plot of the Dask dashboard in a pane',
    execute: args => {
      const path = String(args.path ?? '');
      const paneId = DashboardPane.idFor(path);
      const open = panes.find(pane => pane.id === paneId);
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

  commands.addCommand(CommandIDs.openDashboard, {
    label: 'Open Dask Dashboard in a Browser Tab',
    isEnabled: isRunning,
    execute: args => {
      const cluster = target(args);
      if (!cluster) {
        return noCluster();
      }
      window.open(URLExt.join(baseUrl, cluster.dashboard_url, 'status'));
    }
  });

  const settings = app.serviceManager.serverSettings;
  const jobPanes = new Map<string, MainAreaWidget<JobsPanel>>();

  commands.addCommand(CommandIDs.showJobs, {
    label: 'Show Batch Jobs (HTCondor)',
    caption: "The cluster's HTCondor jobs (or local worker processes)",
    isEnabled: isRunning,
    execute: args => {
      const cluster = target(args);
      if (!cluster) {
        return noCluster();
      }
      const id = cluster.id;
      let pane = jobPanes.get(id);
      if (!pane || pane.isDisposed) {
        const content = new JobsPanel({
          clusterId: id,
          clusterName: () => model.find(id)?.name ?? id,
          serverSettings: settings,
          interval: model.pollInterval,
          onLogs: job =>
            void commands.execute(CommandIDs.showJobLogs, { id, job: job.id }),
          onKill: job =>
            commands.execute(CommandIDs.killJob, {
              id,
              job: job.id,
              worker: job.worker_name ?? ''
            })
        });
        pane = new MainAreaWidget({ content });
        pane.id = `coffea-casa-jobs-${id}`;
        pane.title.label = `Jobs: ${cluster.name}`;
        pane.title.icon = coffeaCasaIcon;
        pane.title.closable = true;
        jobPanes.set(id, pane);
        app.shell.add(pane, 'main', { mode: 'split-bottom' });
      }
      app.shell.activateById(pane.id);
      return pane;
    }
  });

  commands.addCommand(CommandIDs.killJob, {
    label: 'Kill Batch Job…',
    caption: 'condor_rm one job, after asking',
    execute: async args => {
      const id = String(args.id ?? '');
      const job = String(args.job ?? '');
      const worker = args.worker ? ` (worker ${args.worker})` : '';
      const answer = await showDialog({
        title: `Kill job ${job}?`,
        body:
          `The job${worker} stops and its tasks are recomputed elsewhere. ` +
          'An adaptive cluster starts a replacement if it needs one.',
        buttons: [
          Dialog.cancelButton(),
          Dialog.warnButton({ label: 'Kill', ariaLabel: 'Kill' })
        ]
      });
      if (!answer.button.accept) {
        return false;
      }
      try {
        await killJob(id, job, settings);
      } catch (error) {
        Notification.error(
          `Could not kill job ${job}: ${error instanceof Error ? error.message : error}`,
          { autoClose: 8000 }
        );
        return false;
      }
      void model.refresh();
      return true;
    }
  });

  commands.addCommand(CommandIDs.showJobLogs, {
    label: 'Show Batch Job Logs',
    caption: 'stdout and stderr of one job',
    execute: args => {
      const id = String(args.id ?? '');
      const job = String(args.job ?? '');
      const title = `Job ${job} logs`;
      const paneId = `coffea-casa-job-logs-${id}-${job}`.replace(
        /[^\w-]/g,
        '-'
      );
      const open = [...app.shell.widgets('main')].find(w => w.id === paneId);
      if (open) {
        app.shell.activateById(open.id);
        return;
      }
      const content = new JobLogsView(title, () => jobLogs(id, job, settings));
      const pane = new MainAreaWidget({ content });
      pane.id = paneId;
      pane.title.label = title;
      pane.title.icon = coffeaCasaIcon;
      pane.title.closable = true;
      app.shell.add(pane, 'main');
      app.shell.activateById(pane.id);
    }
  });

  commands.addCommand(CommandIDs.toggleReport, {
    label: 'Record Performance Report',
    caption:
      'Record a Dask performance report; stopping saves it and opens it in a tab',
    isEnabled: isRunning,
    isToggled: args => !!target(args)?.recording,
    execute: async args => {
      const cluster = target(args);
      if (!cluster) {
        return noCluster();
      }
      if (!cluster.recording) {
        return model.startReport(cluster.id);
      }
      const saved = await model.stopReport(cluster.id);
      if (saved?.path) {
        const widget = await commands.execute('docmanager:open', {
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
    }
  });

  commands.addCommand(CommandIDs.installPackages, {
    label: 'Install Packages on Dask Workers…',
    caption: "pip install requirements on the cluster's workers (PipInstall)",
    isEnabled: isRunning,
    execute: async args => {
      const cluster = target(args);
      if (!cluster) {
        return noCluster();
      }
      const packages = Array.isArray(args.packages)
        ? (args.packages as string[])
        : await showPackagesDialog(cluster);
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
    }
  });

  /** The `path` argument, or the .py file selected in the file browser. */
  const fileOf = (args: ReadonlyPartialJSONObject): string | null => {
    if (typeof args.path === 'string' && args.path) {
      return args.path;
    }
    const browser = browsers?.tracker.currentWidget;
    const item = browser ? browser.selectedItems().next() : undefined;
    return item && !item.done && item.value.type !== 'directory'
      ? item.value.path
      : null;
  };

  commands.addCommand(CommandIDs.sendFile, {
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
  });
  app.contextMenu.addItem({
    command: CommandIDs.sendFile,
    selector: '.jp-DirListing-item[data-file-type="python"]',
    rank: 50
  });

  const cardItems = [
    CommandIDs.injectClientCode,
    CommandIDs.copySchedulerAddress,
    CommandIDs.scaleCluster,
    CommandIDs.showJobs,
    CommandIDs.toggleReport,
    CommandIDs.installPackages,
    CommandIDs.openDashboard,
    CommandIDs.shutdownCluster
  ];
  cardItems.forEach((command, rank) =>
    app.contextMenu.addItem({ command, selector: CARD_SELECTOR, rank })
  );

  if (palette) {
    for (const command of [
      CommandIDs.openSidebar,
      CommandIDs.newCluster,
      CommandIDs.refresh,
      ...cardItems,
      CommandIDs.sendFile
    ]) {
      palette.addItem({ command, category: PALETTE_CATEGORY });
    }
  }
}
