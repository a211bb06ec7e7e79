/**
 * Connecting a client to a cluster: its connection code into a notebook or
 * a console, or its scheduler address on the clipboard.
 */
import { Clipboard, Notification } from '@jupyterlab/apputils';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { canConnect, injectClientCode } from '../inject';
import { ICommandContext } from './context';
import { CommandIDs } from './ids';

export function registerClientCommands(ctx: ICommandContext): void {
  const { app, notebooks, target } = ctx;
  const connectable = (args: ReadonlyPartialJSONObject) => {
    const cluster = target(args);
    return !!cluster && canConnect(cluster);
  };

  app.commands.addCommand(CommandIDs.injectClientCode, {
    label: 'Inject Client Connection Code',
    caption: 'Insert TLS client code into the active notebook or console',
    isEnabled: connectable,
    execute: ctx.forCluster(cluster => {
      const done =
        injectClientCode(app.shell.currentWidget, cluster) ||
        injectClientCode(notebooks?.currentWidget ?? null, cluster);
      if (!done) {
        Notification.warning(
          'Open a notebook or a console first: the client code goes into it.',
          { autoClose: 5000 }
        );
      }
    })
  });

  app.commands.addCommand(CommandIDs.copySchedulerAddress, {
    label: 'Copy Scheduler Address',
    isEnabled: connectable,
    execute: args => {
      const address = target(args)?.scheduler_address;
      if (address) {
        Clipboard.copyToSystem(address);
      }
    }
  });
}
