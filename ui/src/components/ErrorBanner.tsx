import { ApiError } from '../api/client';

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof TypeError) return `cannot reach gantry: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** An error from the server, with its message. */
export function ErrorBanner({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const status = error instanceof ApiError ? ` (${error.status})` : '';
  return (
    <div className="alert alert-error" role="alert">
      {title && <strong>{title}{status}: </strong>}
      <span className="alert-message">{errorMessage(error)}</span>
    </div>
  );
}
