// Live data for the views. Today every source is polled (gantry has no watch
// API yet); the seam for Server-Sent Events is `Live`: a view subscribes and
// receives values, and does not know how they arrive. When gantry serves Argo
// CD's /api/v1/stream/applications, add `streamed()` below (an EventSource that
// calls onData per event) and switch the sources in `sources.ts`; no view changes.
import { useCallback, useEffect, useRef, useState } from 'react';

export interface Live<T> {
  /** Starts delivering values; returns the function that stops it. */
  subscribe(onData: (v: T) => void, onError: (e: unknown) => void): () => void;
  /** Asks for a new value now (after an action). */
  kick?(): void;
}

/** The interval the views poll at (ms): a small load on gantry for status within 2 s. */
export const POLL_MS = 2000;

/**
 * polled calls fetch, then again intervalMs after each answer (never two at
 * once), pausing while the page is hidden.
 */
export function polled<T>(fetchFn: (signal: AbortSignal) => Promise<T>, intervalMs = POLL_MS): Live<T> {
  const kicks = new Set<() => void>();
  return {
    subscribe(onData, onError) {
      let stopped = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let ctrl: AbortController | undefined;
      let inFlight = false;
      let again = false;
      const tick = async () => {
        if (stopped) return;
        if (inFlight) {
          again = true;
          return;
        }
        clearTimeout(timer);
        if (typeof document !== 'undefined' && document.hidden) {
          timer = setTimeout(tick, intervalMs);
          return;
        }
        inFlight = true;
        ctrl = new AbortController();
        try {
          const v = await fetchFn(ctrl.signal);
          if (!stopped) onData(v);
        } catch (e) {
          if (!stopped && !(e instanceof DOMException && e.name === 'AbortError')) onError(e);
        } finally {
          inFlight = false;
        }
        if (stopped) return;
        if (again) {
          again = false;
          void tick();
        } else {
          timer = setTimeout(tick, intervalMs);
        }
      };
      const onVisible = () => {
        if (!document.hidden) void tick();
      };
      document.addEventListener('visibilitychange', onVisible);
      kicks.add(tick);
      void tick();
      return () => {
        stopped = true;
        kicks.delete(tick);
        clearTimeout(timer);
        ctrl?.abort();
        document.removeEventListener('visibilitychange', onVisible);
      };
    },
    kick() {
      kicks.forEach((k) => void k());
    },
  };
}

export interface LiveState<T> {
  data: T | undefined;
  error: unknown;
  /** True until the first value or error. */
  loading: boolean;
  /** Fetch again now. */
  reload: () => void;
}

/**
 * useLive subscribes to the source made by make() while the component is
 * mounted and deps are unchanged. The last value stays shown when a later
 * fetch fails (error is set alongside it).
 */
export function useLive<T>(make: () => Live<T> | null, deps: unknown[]): LiveState<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const liveRef = useRef<Live<T> | null>(null);
  useEffect(() => {
    const live = make();
    liveRef.current = live;
    setState({ data: undefined, error: undefined, loading: live !== null });
    if (!live) return;
    return live.subscribe(
      (data) => setState({ data, error: undefined, loading: false }),
      (error) => setState((s) => ({ ...s, error, loading: false })),
    );
  }, deps);
  const reload = useCallback(() => liveRef.current?.kick?.(), []);
  return { ...state, reload };
}
