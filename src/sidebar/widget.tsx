import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { CommandIDs } from '../commands/ids';
import { DashboardLauncher } from '../dashboard';
import { coffeaCasaIcon } from '../icons';
import { ClusterList } from './ClusterList';
import { ClusterListModel } from './model';

export const SIDEBAR_ID = 'coffea-casa-lab-sidebar';

/**
 * The left-sidebar panel: dashboard buttons of the selected cluster, then
 * the cluster manager (cards). Every action goes through a command.
 */
export class ClusterSidebar extends ReactWidget {
  constructor(options: ClusterSidebar.IOptions) {
    super();
    this.model = options.model;
    this._commands = options.commands;
    this.id = SIDEBAR_ID;
    this.addClass('jp-CoffeaCasa-sidebar');
    this.title.icon = coffeaCasaIcon;
    this.title.caption = 'Dask clusters (coffea-casa)';
  }

  readonly model: ClusterListModel;

  /** Show only the dashboard buttons (setting `hideClusterManager`). */
  get hideClusterManager(): boolean {
    return this._hideClusterManager;
  }
  set hideClusterManager(value: boolean) {
    this._hideClusterManager = value;
    this.update();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.visible = true;
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.visible = false;
  }

  render(): JSX.Element {
    const model = this.model;
    const commands = this._commands;
    const run = (command: string, args: Record<string, string> = {}) =>
      void commands.execute(command, args);
    return (
      <UseSignal signal={model.changed}>
        {() => {
          const dashboard = model.dashboard;
          const selected = model.selected;
          return (
            <div className="jp-CoffeaCasa-panel">
              <DashboardLauncher
                plots={dashboard.plots}
                active={
                  dashboard.active && dashboard.clusterId === selected?.id
                }
                clusterName={selected?.name ?? null}
                onOpen={plot =>
                  run(CommandIDs.openDashboardPlot, {
                    id: dashboard.clusterId ?? '',
                    path: plot.path,
                    label: plot.label
                  })
                }
              />
              {!this._hideClusterManager && (
                <ClusterList
                  clusters={model.clusters}
                  selectedId={selected?.id ?? null}
                  error={model.error}
                  actionError={model.actionError}
                  loaded={model.loaded}
                  canStart={commands.isEnabled(CommandIDs.newCluster)}
                  isBusy={id => model.isBusy(id)}
                  cardError={id => model.cardError(id)}
                  onNewCluster={() => run(CommandIDs.newCluster)}
                  onRetry={() => void model.refresh()}
                  onSelect={id => model.select(id)}
                  onScale={id => run(CommandIDs.scaleCluster, { id })}
                  onShutdown={id => run(CommandIDs.shutdownCluster, { id })}
                  onDismiss={id => run(CommandIDs.dismissCluster, { id })}
                  onJobs={id => run(CommandIDs.showJobs, { id })}
                  onRecord={id => run(CommandIDs.toggleReport, { id })}
                  onKeep={id => run(CommandIDs.keepCluster, { id })}
                  onDiagnose={(id, job) =>
                    run(CommandIDs.diagnoseJob, { id, job })
                  }
                  onInstallPackages={(id, packages) =>
                    void commands.execute(CommandIDs.installPackages, {
                      id,
                      suggested: packages
                    })
                  }
                />
              )}
            </div>
          );
        }}
      </UseSignal>
    );
  }

  private _commands: CommandRegistry;
  private _hideClusterManager = false;
}

export namespace ClusterSidebar {
  export interface IOptions {
    model: ClusterListModel;
    commands: CommandRegistry;
  }
}
