import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { CommandIDs } from '../commands';
import { coffeaCasaIcon } from '../icons';
import { ClusterList } from './ClusterList';
import { ClusterListModel } from './model';

export const SIDEBAR_ID = 'coffea-casa-lab-sidebar';

/**
 * The left-sidebar panel listing the Dask clusters.
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
    return (
      <UseSignal signal={model.changed}>
        {() => (
          <ClusterList
            clusters={model.clusters}
            error={model.error}
            actionError={model.actionError}
            loaded={model.loaded}
            canStart={commands.isEnabled(CommandIDs.newCluster)}
            onNewCluster={() => void commands.execute(CommandIDs.newCluster)}
            onRetry={() => void model.refresh()}
          />
        )}
      </UseSignal>
    );
  }

  private _commands: CommandRegistry;
}

export namespace ClusterSidebar {
  export interface IOptions {
    model: ClusterListModel;
    commands: CommandRegistry;
  }
}
