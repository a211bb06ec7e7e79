/**
 * A cluster's batch jobs (HTCondor jobs, or local worker processes): the
 * jobs pane with each job's story, one job's logs (ended jobs too), why an
 * idle job waits (Diagnose), killing or removing a job, releasing a held
 * one, and a shell on a running one.
 */
import {
  Dialog,
  MainAreaWidget,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import {
  errorMessage,
  IJobModel,
  jobAnalysis,
  jobLogs,
  killJob,
  releaseJob
} from '../api';
import { coffeaCasaIcon } from '../icons';
import { JobAnalysisView, JobLogsView, JobsPanel } from '../jobs';
import { ICommandContext } from './context';
import { CommandIDs } from './ids';

export function registerJobCommands(ctx: ICommandContext): void {
  const { commands } = ctx.app;
  commands.addCommand(CommandIDs.showJobs, showJobs(ctx));
  commands.addCommand(CommandIDs.killJob, kill(ctx));
  commands.addCommand(CommandIDs.showJobLogs, showLogs(ctx));
  commands.addCommand(CommandIDs.diagnoseJob, diagnose(ctx));
  commands.addCommand(CommandIDs.releaseJob, release(ctx));
  commands.addCommand(CommandIDs.jobShell, shell(ctx));
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
          onDiagnose:
            cluster.backend === 'htcondor'
              ? job =>
                  void commands.execute(CommandIDs.diagnoseJob, {
                    id,
                    job: job.id
                  })
              : undefined,
          onKill: job =>
            commands.execute(CommandIDs.killJob, {
              id,
              job: job.id,
              worker: job.worker_name ?? '',
              held: job.status === 'held'
            }),
          onRelease: job =>
            commands.execute(CommandIDs.releaseJob, { id, job: job.id }),
          onShell: job =>
            void commands.execute(CommandIDs.jobShell, {
              job: job.id,
              command: shellCommand(model.find(id)?.backend, job)
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
      const verb = args.held ? 'Remove' : 'Kill';
      const answer = await showDialog({
        title: `${verb} job ${job}?`,
        body: args.held
          ? `The held job${worker} leaves the queue (condor_rm) and the cluster asks for one worker less.`
          : `The job${worker} stops and its tasks are recomputed elsewhere. ` +
            'An adaptive cluster starts a replacement if it needs one.',
        buttons: [
          Dialog.cancelButton(),
          Dialog.warnButton({ label: verb, ariaLabel: verb })
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

function release(ctx: ICommandContext): CommandRegistry.ICommandOptions {
  const settings = ctx.app.serviceManager.serverSettings;
  return {
    label: 'Release Held Batch Job…',
    caption: 'condor_release one held job, after asking',
    execute: async args => {
      const id = String(args.id ?? '');
      const job = String(args.job ?? '');
      const answer = await showDialog({
        title: `Release job ${job}?`,
        body:
          'The job goes back to idle and runs again. If what held it is not ' +
          'fixed (memory, image, site policy), it may be held again.',
        buttons: [
          Dialog.cancelButton(),
          Dialog.okButton({ label: 'Release', ariaLabel: 'Release' })
        ]
      });
      if (!answer.button.accept) {
        return false;
      }
      try {
        await releaseJob(id, job, settings);
      } catch (error) {
        Notification.error(
          `Could not release job ${job}: ${errorMessage(error)}`,
          { autoClose: 8000 }
        );
        return false;
      }
      void ctx.model.refresh();
      return true;
    }
  };
}

/** What a job's shell runs first: condor_ssh_to_job (docs 4.2), or cd to the local worker's directory. */
export function shellCommand(
  backend: string | undefined,
  job: IJobModel
): string {
  if (backend === 'htcondor') {
    // -auto-retry: right after a job starts, its starter may not be reachable yet
    return `condor_ssh_to_job -auto-retry ${job.id}`;
  }
  const dir = (job.directory ?? '').replace(/'/g, "'\\''");
  return dir ? `cd '${dir}'` : '';
}

/** The part of a lab terminal widget this needs (no @jupyterlab/terminal import). */
interface ITerminalPane {
  title: { label: string };
  content?: {
    session?: { send(message: { type: string; content: string[] }): void };
  };
}

function shell(ctx: ICommandContext): CommandRegistry.ICommandOptions {
  const { commands } = ctx.app;
  return {
    label: 'Open a Shell on a Batch Job',
    caption: "A lab terminal in the job's sandbox (condor_ssh_to_job)",
    execute: async args => {
      const command = String(args.command ?? '');
      const pane = (await commands.execute(
        'terminal:create-new'
      )) as ITerminalPane;
      pane.title.label = `Job ${String(args.job ?? '')}`;
      if (command) {
        pane.content?.session?.send({
          type: 'stdin',
          content: [command + '\n']
        });
      }
      return pane;
    }
  };
}

const showLogs = (ctx: ICommandContext) =>
  jobTab(ctx, {
    label: 'Show Batch Job Logs',
    caption: 'stdout and stderr of one job, running or ended',
    kind: 'logs',
    title: job => `Job ${job} logs`,
    make: (title, load) => new JobLogsView(title, () => load(jobLogs))
  });

const diagnose = (ctx: ICommandContext) =>
  jobTab(ctx, {
    label: 'Diagnose Idle Batch Job',
    caption:
      "Why an HTCondor job waits: the pool's analysis (condor_q -better-analyze)",
    kind: 'analysis',
    title: job => `Diagnose job ${job}`,
    make: (title, load) => new JobAnalysisView(title, () => load(jobAnalysis))
  });

type JobRequest<T> = (
  id: string,
  job: string,
  settings: ServerConnection.ISettings
) => Promise<T>;

/** A command that opens (or shows again) a tab about one job of a cluster (`id`, `job`). */
function jobTab(
  ctx: ICommandContext,
  options: {
    label: string;
    caption: string;
    kind: string;
    title: (job: string) => string;
    make: (
      title: string,
      load: <T>(request: JobRequest<T>) => Promise<T>
    ) => Widget;
  }
): CommandRegistry.ICommandOptions {
  const settings = ctx.app.serviceManager.serverSettings;
  return {
    label: options.label,
    caption: options.caption,
    execute: args => {
      const id = String(args.id ?? '');
      const job = String(args.job ?? '');
      const title = options.title(job);
      openTab(ctx, `coffea-casa-job-${options.kind}-${id}-${job}`, title, () =>
        options.make(title, request => request(id, job, settings))
      );
    }
  };
}

/** The tab `id` (activated if open), else a new one around `make(title)`. */
function openTab(
  ctx: ICommandContext,
  id: string,
  title: string,
  make: (title: string) => Widget
): void {
  const { app } = ctx;
  const paneId = id.replace(/[^\w-]/g, '-');
  const open = [...app.shell.widgets('main')].find(w => w.id === paneId);
  if (open) {
    app.shell.activateById(open.id);
    return;
  }
  const pane = tab(make(title), paneId, title);
  app.shell.add(pane, 'main');
  app.shell.activateById(pane.id);
}
