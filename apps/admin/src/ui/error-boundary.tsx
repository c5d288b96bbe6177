import { Component, type ErrorInfo, type ReactNode } from "react";

/**
 * A view that throws while rendering shows what happened instead of leaving a blank page; the header and
 * the other views keep working. Keyed by the view, so moving to another view starts it afresh.
 */
export class ViewErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state = { error: undefined as unknown };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    console.error("the view failed to render", error, info.componentStack);
  }

  override render() {
    if (this.state.error === undefined) return this.props.children;
    return (
      <div className="notice notice-error" role="alert" data-kind="other">
        <strong>This view failed to show its answer</strong>
        <p>{this.state.error instanceof Error ? this.state.error.message : String(this.state.error)}</p>
        <p>Reload the page to try again; the browser's console has the details.</p>
      </div>
    );
  }
}
