import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { errorMessage } from '../api';
import { PaneHeader } from './PaneHeader';

/**
 * A lab tab that loads something about a job (its logs, its analysis) and
 * shows it under a header with a button that loads it again.
 */
export abstract class LoadingPane<T> extends ReactWidget {
  constructor(
    readonly title_: string,
    private _load: () => Promise<T>,
    private _labels: { button: string; loading: string }
  ) {
    super();
    void this.reload();
  }

  async reload(): Promise<void> {
    try {
      this._data = await this._load();
      this._error = null;
    } catch (error) {
      this._error = errorMessage(error);
    }
    this.update();
  }

  render(): JSX.Element {
    const data = this._data;
    return (
      <div className="jp-CoffeaCasa-jobLogsBody">
        <PaneHeader
          title={this.title_}
          button={this._labels.button}
          onReload={() => void this.reload()}
          error={this._error}
          loading={data ? null : this._labels.loading}
        />
        {data && this.renderContent(data)}
      </div>
    );
  }

  /** What was loaded. */
  protected abstract renderContent(data: T): JSX.Element;

  private _error: string | null = null;
  private _data: T | null = null;
}
