/**
 * Client connection code for a cluster, and putting it into a notebook or a
 * console.
 */
import { ICodeCellModel } from '@jupyterlab/cells';
import { ConsolePanel } from '@jupyterlab/console';
import { NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { IClusterModel } from './api';

/** Whether a client can connect to the cluster: it has a scheduler that is not lost. */
export function canConnect(cluster: IClusterModel): boolean {
  return !!cluster.scheduler_address && cluster.status !== 'lost';
}

/** The mime type JupyterLab notebooks accept cells from on a drop. */
export const CELLS_MIME = 'application/vnd.jupyter.cells';

/**
 * Python that connects a client to the cluster's scheduler, over TLS with
 * the facility's (or the per-user) certificates.
 */
export function clientCode(cluster: IClusterModel): string {
  const address = JSON.stringify(cluster.scheduler_address);
  return [
    'from dask.distributed import Client',
    'from coffea_casa import CoffeaCasaCluster',
    '',
    `client = Client(${address}, security=CoffeaCasaCluster.security())`,
    'client'
  ].join('\n');
}

/** A notebook code cell (nbformat JSON) holding the client code. */
export function clientCell(cluster: IClusterModel) {
  return {
    cell_type: 'code' as const,
    source: clientCode(cluster),
    metadata: {},
    outputs: [],
    execution_count: null
  };
}

/**
 * Put the client code into `widget`: a new code cell below the active cell
 * of a notebook, or the prompt of a console. Returns false for other widgets.
 */
export function injectClientCode(
  widget: Widget | null,
  cluster: IClusterModel
): boolean {
  const code = clientCode(cluster);
  if (widget instanceof NotebookPanel) {
    const notebook = widget.content;
    const model = notebook.model;
    if (!model) {
      return false;
    }
    const active = notebook.activeCell;
    const empty =
      active?.model.type === 'code' &&
      active.model.sharedModel.getSource().trim() === '' &&
      !(active.model as ICodeCellModel).outputs?.length;
    if (!active || !empty) {
      NotebookActions.insertBelow(notebook);
    }
    notebook.activeCell?.model.sharedModel.setSource(code);
    return true;
  }
  if (widget instanceof ConsolePanel) {
    const prompt = widget.console.promptCell;
    if (!prompt) {
      return false;
    }
    prompt.model.sharedModel.setSource(code);
    return true;
  }
  return false;
}
