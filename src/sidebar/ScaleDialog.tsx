import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { IAdaptModel, IClusterModel } from '../api';

/** What the user asked for: a fixed number of workers, or adaptive bounds. */
export type ScaleRequest = { workers: number } | { adapt: IAdaptModel };

/** The server refuses more workers than this (see openapi.yaml). */
export const MAX_WORKERS = 10000;

interface IScaleState {
  adaptive: boolean;
  workers: string;
  minimum: string;
  maximum: string;
}

/**
 * Check the dialog's inputs: a request, or the reason it is not one.
 */
export function checkScale(state: IScaleState): ScaleRequest | string {
  if (!state.adaptive) {
    const workers = count(state.workers);
    return typeof workers === 'string' ? `Workers: ${workers}` : { workers };
  }
  const minimum = count(state.minimum);
  if (typeof minimum === 'string') {
    return `Minimum: ${minimum}`;
  }
  const maximum = count(state.maximum);
  if (typeof maximum === 'string') {
    return `Maximum: ${maximum}`;
  }
  if (minimum > maximum) {
    return 'The minimum must not be larger than the maximum.';
  }
  return { adapt: { minimum, maximum } };
}

function count(text: string): number | string {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) {
    return 'enter a whole number, 0 or more.';
  }
  const value = Number(trimmed);
  if (value > MAX_WORKERS) {
    return `at most ${MAX_WORKERS}.`;
  }
  return value;
}

/**
 * The body of the scale dialog: manual workers, or adaptive minimum and
 * maximum. It disables the dialog's Scale button while the input is invalid.
 */
class ScaleBody extends ReactWidget {
  constructor(state: IScaleState) {
    super();
    this.addClass('jp-CoffeaCasa-scaleDialog');
    this._state = state;
  }

  get state(): IScaleState {
    return this._state;
  }

  getValue(): ScaleRequest | string {
    return checkScale(this._state);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._sync();
  }

  render(): JSX.Element {
    const state = this._state;
    const result = checkScale(state);
    const update = (change: Partial<IScaleState>) => {
      this._state = { ...this._state, ...change };
      this.update();
      this._sync();
    };
    const field = { state, update };
    return (
      <div>
        <div className="jp-CoffeaCasa-scaleMode" role="radiogroup">
          {[false, true].map(adaptive => (
            <label key={String(adaptive)}>
              <input
                type="radio"
                name="coffea-casa-scale-mode"
                checked={state.adaptive === adaptive}
                onChange={() => update({ adaptive })}
              />{' '}
              {adaptive ? 'Adaptive scaling' : 'Manual scaling'}
            </label>
          ))}
        </div>
        {!state.adaptive ? (
          <NumberField label="Workers" field="workers" {...field} />
        ) : (
          <div className="jp-CoffeaCasa-scaleRange">
            <NumberField label="Minimum" field="minimum" {...field} />
            <NumberField label="Maximum" field="maximum" {...field} />
          </div>
        )}
        <p className="jp-CoffeaCasa-scaleProblem" role="status">
          {typeof result === 'string' ? result : ''}
        </p>
      </div>
    );
  }

  /** Enable the accept button only for valid input. */
  private _sync(): void {
    const accept = this.node
      .closest('.jp-Dialog')
      ?.querySelector<HTMLButtonElement>('.jp-Dialog-button.jp-mod-accept');
    if (accept) {
      accept.disabled = typeof this.getValue() === 'string';
    }
  }

  private _state: IScaleState;
}

/** One number of the dialog: the workers, the minimum or the maximum. */
function NumberField(props: {
  label: string;
  field: 'workers' | 'minimum' | 'maximum';
  state: IScaleState;
  update: (change: Partial<IScaleState>) => void;
}): JSX.Element {
  const { label, field } = props;
  return (
    <label className="jp-CoffeaCasa-scaleField">
      {label}
      <input
        className="jp-mod-styled"
        type="number"
        min={0}
        max={MAX_WORKERS}
        aria-label={label}
        value={props.state[field]}
        onChange={e => props.update({ [field]: e.target.value })}
      />
    </label>
  );
}

/**
 * Ask how to scale `cluster`. Resolves to the request, or null if cancelled.
 */
export async function showScaleDialog(
  cluster: IClusterModel
): Promise<ScaleRequest | null> {
  const adapt = cluster.adapt;
  const workers = cluster.requested_workers || cluster.workers;
  let state: IScaleState = {
    adaptive: !!adapt,
    workers: String(workers),
    minimum: String(adapt?.minimum ?? 0),
    maximum: String(adapt?.maximum ?? Math.max(workers, 1))
  };
  for (;;) {
    const body = new ScaleBody(state);
    const result = await showDialog({
      title: `Scale ${cluster.name}`,
      body,
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({ label: 'Scale', ariaLabel: 'Scale' })
      ],
      focusNodeSelector: 'input[type="number"]'
    });
    state = body.state;
    if (!result.button.accept) {
      return null;
    }
    const value = checkScale(state);
    if (typeof value !== 'string') {
      return value;
    }
    // Enter on invalid input: ask again, with the reason shown.
  }
}
