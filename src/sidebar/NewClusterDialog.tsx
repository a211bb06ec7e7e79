import { Dialog, showDialog } from '@jupyterlab/apputils';
import { HTMLSelect, ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  ClusterOptionValue,
  ClusterOptionValues,
  IClusterOption
} from '../api';

/** What a field holds while the user edits it: text for numbers and sizes. */
type FieldValues = Record<string, string | boolean>;

/**
 * The values the form starts with: the remembered ones where the site still
 * offers them, else the site's defaults.
 */
export function initialValues(
  options: ReadonlyArray<IClusterOption>,
  remembered: Readonly<ClusterOptionValues>
): ClusterOptionValues {
  const values: ClusterOptionValues = {};
  for (const option of options) {
    const last = remembered[option.name];
    values[option.name] =
      last !== undefined && stillOffered(option, last) ? last : option.default;
  }
  return values;
}

/** Whether a remembered value is still one the site takes (sizes are left to the server). */
function stillOffered(option: IClusterOption, value: ClusterOptionValue) {
  switch (option.type) {
    case 'select':
      return (option.choices ?? []).includes(value);
    case 'int':
    case 'float':
      return (
        typeof value === 'number' &&
        !(typeof option.min === 'number' && value < option.min) &&
        !(typeof option.max === 'number' && value > option.max)
      );
    case 'bool':
      return typeof value === 'boolean';
    default:
      return typeof value === 'string';
  }
}

/** The limits shown beside a field: `1 – 4`, `at least 2 GiB`; empty if none. */
export function limitsText(option: IClusterOption): string {
  const { min, max } = option;
  if (min !== undefined && max !== undefined) {
    return `${min} – ${max}`;
  }
  if (min !== undefined) {
    return `at least ${min}`;
  }
  return max !== undefined ? `at most ${max}` : '';
}

/**
 * The form of + NEW: one labelled field per site option, its limits beside
 * it, and the server's reason when it refused the last values. The server
 * checks the limits (the same check as a notebook's CoffeaCasaCluster), so
 * the form shows its message rather than a second opinion.
 */
class NewClusterBody
  extends ReactWidget
  implements Dialog.IBodyWidget<ClusterOptionValues>
{
  constructor(
    private readonly _options: ReadonlyArray<IClusterOption>,
    values: ClusterOptionValues,
    private readonly _problem: string | null
  ) {
    super();
    this.addClass('jp-CoffeaCasa-newCluster');
    this._fields = {};
    for (const option of _options) {
      const value = values[option.name];
      this._fields[option.name] =
        option.type === 'bool'
          ? !!value
          : option.type === 'select'
            ? String(Math.max(0, (option.choices ?? []).indexOf(value)))
            : String(value);
    }
  }

  getValue(): ClusterOptionValues {
    const values: ClusterOptionValues = {};
    for (const option of this._options) {
      values[option.name] = valueOf(option, this._fields[option.name]);
    }
    return values;
  }

  render(): JSX.Element {
    const change = (name: string, value: string | boolean) => {
      this._fields = { ...this._fields, [name]: value };
      this.update();
    };
    return (
      <div className="jp-CoffeaCasa-optionFields">
        {this._problem && (
          <p className="jp-CoffeaCasa-newClusterProblem" role="alert">
            {this._problem}
          </p>
        )}
        {this._options.map(option => (
          <OptionField
            key={option.name}
            option={option}
            value={this._fields[option.name]}
            onChange={value => change(option.name, value)}
          />
        ))}
      </div>
    );
  }

  private _fields: FieldValues;
}

/** A field's value as the server takes it: numbers as numbers (text it refuses, with its reason). */
function valueOf(
  option: IClusterOption,
  field: string | boolean
): ClusterOptionValue {
  if (option.type === 'bool') {
    return !!field;
  }
  const text = String(field).trim();
  if (option.type === 'select') {
    return (option.choices ?? [])[Number(text)] ?? option.default;
  }
  if ((option.type === 'int' || option.type === 'float') && text !== '') {
    const number = Number(text);
    return Number.isNaN(number) ? text : number;
  }
  return text;
}

function OptionField(props: {
  option: IClusterOption;
  value: string | boolean;
  onChange: (value: string | boolean) => void;
}): JSX.Element {
  const { option, value, onChange } = props;
  const id = `jp-CoffeaCasa-option-${option.name}`;
  const limits = limitsText(option);
  let input: JSX.Element;
  if (option.type === 'bool') {
    input = (
      <input
        id={id}
        type="checkbox"
        checked={!!value}
        onChange={e => onChange(e.target.checked)}
      />
    );
  } else if (option.type === 'select') {
    input = (
      <HTMLSelect
        id={id}
        value={String(value)}
        onChange={e => onChange(e.target.value)}
        options={(option.choices ?? []).map((choice, index) => ({
          label: String(choice),
          value: String(index)
        }))}
      />
    );
  } else {
    const numeric = option.type === 'int' || option.type === 'float';
    input = (
      <input
        id={id}
        className="jp-mod-styled"
        type={numeric ? 'number' : 'text'}
        step={option.type === 'int' ? 1 : 'any'}
        min={numeric ? (option.min as number | undefined) : undefined}
        max={numeric ? (option.max as number | undefined) : undefined}
        placeholder={option.type === 'memory' ? 'e.g. 4 GiB' : undefined}
        spellCheck={false}
        value={String(value)}
        onChange={e => onChange(e.target.value)}
      />
    );
  }
  return (
    <div className={`jp-CoffeaCasa-optionField jp-mod-${option.type}`}>
      <label htmlFor={id} title={option.description}>
        {option.label}
      </label>
      {input}
      <span className="jp-CoffeaCasa-optionLimits">{limits}</span>
    </div>
  );
}

/**
 * Ask for the new cluster's options, starting from `values`, with the reason
 * the server refused them last time (if it did). Null if cancelled.
 */
export async function showNewClusterDialog(
  options: ReadonlyArray<IClusterOption>,
  values: ClusterOptionValues,
  problem: string | null = null
): Promise<ClusterOptionValues | null> {
  const result = await showDialog({
    title: 'New Dask cluster',
    body: new NewClusterBody(options, values, problem),
    buttons: [
      Dialog.cancelButton(),
      Dialog.okButton({ label: 'Start', ariaLabel: 'Start' })
    ],
    focusNodeSelector: 'input, select'
  });
  return result.button.accept ? result.value : null;
}
