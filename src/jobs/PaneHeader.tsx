import * as React from 'react';

export interface IPaneHeaderProps {
  title: React.ReactNode;
  /** The label of the button that loads the pane's content again. */
  button: string;
  onReload: () => void;
  /** Why the last load failed, if it did. */
  error: string | null;
  /** Shown while nothing is loaded yet (and there is no error). */
  loading: string | null;
}

/**
 * The top of a jobs or logs pane: a title with a reload button, then the
 * error of the last load, or a note while the first one is under way.
 */
export function PaneHeader(props: IPaneHeaderProps): JSX.Element {
  const { error, loading } = props;
  return (
    <>
      <header className="jp-CoffeaCasa-header">
        <h2 className="jp-CoffeaCasa-title">{props.title}</h2>
        <button
          className="jp-Button jp-mod-styled jp-mod-reject"
          onClick={props.onReload}
        >
          {props.button}
        </button>
      </header>
      {error && (
        <div className="jp-CoffeaCasa-error" role="alert">
          {error}
        </div>
      )}
      {loading && !error && <p className="jp-CoffeaCasa-note">{loading}</p>}
    </>
  );
}
