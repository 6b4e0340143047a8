// A render error in one part of the page stays in that part: it says what failed, and the rest of the app (the
// inputs above all) keeps working (issue 16). `resetKey` changing (a new run, another tab) tries again.
import { Component, type ReactNode } from 'react';

interface Props {
  /** What the part is, for the message: "The Attention view". */
  what: string;
  resetKey?: unknown;
  children: ReactNode;
}

interface State {
  error: Error | null;
  key: unknown;
}

export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null, key: this.props.resetKey };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    return props.resetKey !== state.key ? { error: null, key: props.resetKey } : null;
  }

  override render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <div className="pw-error pw-boundary" role="alert" data-testid="render.error">
        <p>
          <strong>{this.props.what} failed to draw:</strong> {error.message}
        </p>
        <p className="pw-muted">Your inputs are kept. Try another view, press Run again, or retry here.</p>
        <button type="button" className="pw-small" onClick={() => this.setState({ error: null })} data-testid="render.retry">Retry</button>
      </div>
    );
  }
}
