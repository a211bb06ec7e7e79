import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { IClusterModel } from '../api';

/** The requirements in a text: one per line, blank lines and `#` comments left out. */
export function parseRequirements(text: string): string[] {
  return text
    .split('\n')
    .map(line => line.replace(/(^|\s)#.*$/, '').trim())
    .filter(line => line.length > 0);
}

/** A text area for requirements, one per line. */
class PackagesBody extends Widget implements Dialog.IBodyWidget<string[]> {
  constructor(initial: string[] = []) {
    const node = document.createElement('label');
    node.className = 'jp-CoffeaCasa-packages';
    node.textContent = 'Requirements, one per line (as in requirements.txt)';
    const area = document.createElement('textarea');
    area.rows = 6;
    area.placeholder = 'numpy\nscikit-learn>=1.4';
    area.spellcheck = false;
    area.value = initial.join('\n');
    node.appendChild(area);
    super({ node });
    this._area = area;
  }

  getValue(): string[] {
    return parseRequirements(this._area.value);
  }

  private _area: HTMLTextAreaElement;
}

/** Ask for requirements to install on a cluster's workers; null if cancelled or empty. */
export async function showPackagesDialog(
  cluster: IClusterModel,
  initial: string[] = []
): Promise<string[] | null> {
  const result = await showDialog({
    title: `Install packages on the workers of ${cluster.name}`,
    body: new PackagesBody(initial),
    buttons: [
      Dialog.cancelButton(),
      Dialog.okButton({ label: 'Install', ariaLabel: 'Install' })
    ],
    focusNodeSelector: 'textarea'
  });
  const packages = result.value ?? [];
  return result.button.accept && packages.length ? packages : null;
}
