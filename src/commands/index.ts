/**
 * The coffea-casa commands, registered once and reused by the palette, the
 * sidebar buttons and the context menus; one module per concern.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';

import { registerClientCommands } from './client';
import { registerClusterCommands } from './clusters';
import { CARD_CLASS, commandContext, IActionOptions } from './context';
import { registerDashboardCommands } from './dashboard';
import { CommandIDs, PALETTE_CATEGORY } from './ids';
import { registerJobCommands } from './jobs';
import { registerWorkerCommands } from './workers';

export { IActionOptions } from './context';
export * from './ids';

/** A cluster card's context menu, in this order. */
const CARD_ITEMS = [
  CommandIDs.injectClientCode,
  CommandIDs.copySchedulerAddress,
  CommandIDs.scaleCluster,
  CommandIDs.showJobs,
  CommandIDs.toggleReport,
  CommandIDs.keepCluster,
  CommandIDs.installPackages,
  CommandIDs.openDashboard,
  CommandIDs.shutdownCluster,
  CommandIDs.dismissCluster
];

export function registerCommands(
  app: JupyterFrontEnd,
  options: IActionOptions
): void {
  const ctx = commandContext(app, options);
  registerClusterCommands(ctx);
  registerClientCommands(ctx);
  registerDashboardCommands(ctx);
  registerJobCommands(ctx);
  registerWorkerCommands(ctx);

  CARD_ITEMS.forEach((command, rank) =>
    app.contextMenu.addItem({ command, selector: `.${CARD_CLASS}`, rank })
  );
  const { palette } = options;
  if (palette) {
    for (const command of [
      CommandIDs.openSidebar,
      CommandIDs.newCluster,
      CommandIDs.refresh,
      ...CARD_ITEMS,
      CommandIDs.sendFile
    ]) {
      palette.addItem({ command, category: PALETTE_CATEGORY });
    }
  }
}
