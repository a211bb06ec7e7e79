import { MainAreaWidget } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { Widget } from '@lumino/widgets';

import { coffeaCasaIcon } from '../icons';

/**
 * A dashboard plot in the main area: an iframe of the proxied plot, which
 * bokeh keeps live over its websocket (through our proxy too).
 */
export class DashboardPane extends MainAreaWidget<Widget> {
  constructor(options: DashboardPane.IOptions) {
    const content = new Widget({ node: document.createElement('div') });
    content.addClass('jp-CoffeaCasa-dashboardPane');
    const iframe = document.createElement('iframe');
    iframe.src = URLExt.join(options.baseUrl, options.path);
    iframe.title = `${options.label} (${options.clusterName})`;
    content.node.appendChild(iframe);
    super({ content });
    this._iframe = iframe;
    this.clusterId = options.clusterId;
    this.path = options.path;
    this.id = DashboardPane.idFor(options.path);
    this.title.label = options.label;
    this.title.caption = `${options.label} — ${options.clusterName}`;
    this.title.icon = coffeaCasaIcon;
    this.title.closable = true;
    this.addClass('jp-CoffeaCasa-dashboardWidget');
  }

  readonly clusterId: string;
  /** The plot's path, relative to base_url. */
  readonly path: string;

  /**
   * Whether the pane's cluster has closed. Once it has, the pane reloads: the
   * proxy's page says the cluster is no longer running, where bokeh would
   * only say that it tries to reconnect.
   */
  get clusterGone(): boolean {
    return this._gone;
  }
  set clusterGone(gone: boolean) {
    if (gone && !this._gone) {
      this._iframe.src = this._iframe.src;
    }
    this._gone = gone;
  }

  private _iframe: HTMLIFrameElement;
  private _gone = false;
}

export namespace DashboardPane {
  export interface IOptions {
    baseUrl: string;
    clusterId: string;
    clusterName: string;
    label: string;
    /** e.g. `coffea-casa/dashboard/{id}/individual-task-stream`. */
    path: string;
  }

  /** One pane per plot: the id is made from the plot's path. */
  export function idFor(path: string): string {
    return `coffea-casa-dashboard-${path.replace(/[^A-Za-z0-9_-]+/g, '-')}`;
  }
}
