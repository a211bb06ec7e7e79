import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { PartialJSONObject } from '@lumino/coreutils';

import { ClusterOptionValues } from '../api';

/** The setting that remembers + NEW's last choice (schema/plugin.json). */
export const NEW_CLUSTER_OPTIONS = 'newClusterOptions';

/**
 * The values + NEW's form was last started with: the user setting
 * `newClusterOptions` (also editable in the Settings Editor), or kept in
 * memory where there is no settings registry.
 */
export class NewClusterPreferences {
  /** Set once the plugin's settings are loaded. */
  settings: ISettingRegistry.ISettings | null = null;

  get values(): ClusterOptionValues {
    const saved = this.settings?.get(NEW_CLUSTER_OPTIONS).composite;
    return saved && typeof saved === 'object' && !Array.isArray(saved)
      ? (saved as ClusterOptionValues)
      : this._values;
  }

  async remember(values: ClusterOptionValues): Promise<void> {
    this._values = values;
    if (this.settings) {
      await this.settings.set(NEW_CLUSTER_OPTIONS, values as PartialJSONObject);
    }
  }

  private _values: ClusterOptionValues = {};
}
