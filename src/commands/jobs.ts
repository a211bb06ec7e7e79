/**
 * A cluster's batch jobs (HTCondor jobs, or local worker processes): the
 * jobs pane, one job's logs, and killing a job.
 */
import {
  Dialog,
  MainAreaWidget,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { errorMessage, jobLogs, killJob } from '../api';
import { coffeaCasaIcon } from '../icons';
import { JobLogsView, JobsPanel } from '../jobs';
import { ICommandContext } from './context';
import { CommandIDs } from './ids';

export function registerJobCommands(ctx: ICommandContext): void {
  const { commands } = ctx.app;
  commands.addCommand(CommandIDs.showJobs, showJobs(ctx));
  commands.addCommand(CommandIDs.killJob, kill(ctx));
  commands.addCommand(CommandIDs.showJobLogs, showLogs(ctx));
}

/** A closable tab of the main area around `content`. */
function tab<T extends Widget>(
  content: T,
  id: string,
  label: string
): MainAreaWidget<T> {
  const pane = new MainAreaWidget({ content });
  pane.id = id;
  pane.title.label = label;
  pane.title.icon = coffeaCasaIcon;
  pane.title.closable = true;
  return pane;
}

function showJobs(ctx: ICommandContext): CommandRegistry.ICommandOptions {
  const { app, model } = ctx;
  const { commands } = app;
  const serverSettings = app.serviceManager.serverSettings;
  const panes = new Map<string, MainAreaWidget<JobsPanel>>();
  return {
    label: 'Show Batch Jobs (HTCondor)',
    caption: "The cluster's HTCondor jobs (or local worker processes)",
    isEnabled: ctx.isRunning,
    execute: ctx.forCluster(cluster => {
      const id = cluster.id;
      let pane = panes.get(id);
      if (!pane || pane.isDisposed) {
        const content = new JobsPanel({
          clusterId: id,
          clusterName: () => model.find(id)?.name ?? id,
          serverSettings,
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
        pane = tab(content, `coffea-casa-jobs-${id}`, `Jobs: ${cluster.name}`);
        panes.set(id, pane);
        app.shell.add(pane, 'main', { mode: 'split-bottom' });
      }
      app.shell.activateById(pane.id);
      return pane;
    })
  };
}

function kill(ctx: ICommandContext): CommandRegistry.ICommandOptions {
  const settings = ctx.app.serviceManager.serverSettings;
  return {
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
          `Could not kill job ${job}: ${errorMessage(error)}`,
          {
            autoClose: 8000
          }
        );
        return false;
      }
      void ctx.model.refresh();
      return true;
    }
  };
}

function showLogs(ctx: ICommandContext): CommandRegistry.ICommandOptions {
  const { app } = ctx;
  const settings = app.serviceManager.serverSettings;
  return {
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
      const pane = tab(content, paneId, title);
      app.shell.add(pane, 'main');
      app.shell.activateById(pane.id);
    }
  };
}
