// Live data for the views. A view subscribes to a `Live` and receives values,
// and does not know how they arrive: `streamed()` follows gantry's
// server-sent-event streams (an EventSource), falling back to `polled()` when
// the stream is not there (an older gantry, a proxy that buffers) or fails;
// which source each view uses is wired in `sources.ts`.
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

/** One change a stream message stands for. */
export type StreamOp<T> =
  | { op: 'reset'; items: T[] } // the full list: replaces everything (and means ready)
  | { op: 'put'; item: T }
  | { op: 'delete'; item: T }
  | { op: 'ready' } // every item that existed when the stream opened has been sent
  | { op: 'error'; message: string }; // the server ended the stream

/** An SSE message: its event name ('message' for unnamed ones) and data. */
export interface StreamMessage {
  event: string;
  data: string;
}

export interface StreamSpec<T, R> {
  url: string;
  /** Named SSE events to listen to besides unnamed messages. */
  events?: string[];
  decode: (m: StreamMessage) => StreamOp<T>[];
  key: (item: T) => string;
  /** What subscribers get from the current items (sorted by key). */
  select: (items: T[]) => R;
  /** What takes over when the stream is unavailable. */
  fallback: () => Live<R>;
}

/** How long after a failed stream it is tried again (polling meanwhile). */
export const STREAM_RETRY_MS = 30000;

/**
 * From this many items on, a stream's changes are delivered at most every
 * STREAM_THROTTLE_MS (the first at once, the rest together at the end): each
 * delivery sorts every item and renders the view again, and 10,000 apps being
 * synced send hundreds of changes a second.
 */
export const STREAM_THROTTLE_ITEMS = 500;
export const STREAM_THROTTLE_MS = 250;

/** The stream sources use EventSource where the browser has it (not jsdom). */
export function hasEventSource(): boolean {
  return typeof EventSource !== 'undefined';
}

/** A stream opened before any view asked for it, and what it said so far. */
interface Early {
  es: EventSource;
  opened: boolean;
  closed: boolean;
  messages: StreamMessage[];
  detach: () => void;
}

const early = new Map<string, Early>();

/** How long an early stream waits for a view to take it before it is closed. */
export const EARLY_STREAM_MS = 10000;

/**
 * preopenStream opens url's stream at once, before the page knows whether
 * anyone is signed in or which view will show it, and keeps what arrives for
 * the first streamed() of that url: the application list's first paint then
 * waits for gantry's answer alone, not for the session check and the first
 * render before it. Refused (not signed in), it is simply not used.
 */
export function preopenStream(url: string, events: string[] = []): void {
  if (!hasEventSource() || early.has(url)) return;
  const es = new EventSource(url);
  const e: Early = { es, opened: false, closed: false, messages: [], detach: () => {} };
  const onMessage = (m: MessageEvent) => e.messages.push({ event: m.type, data: String(m.data) });
  es.onopen = () => {
    e.opened = true;
    e.messages = []; // (re)connected: everything comes again
  };
  es.onmessage = onMessage;
  for (const name of events) es.addEventListener(name, onMessage);
  es.onerror = () => {
    if (es.readyState === 2) e.closed = true;
  };
  e.detach = () => {
    es.onopen = es.onmessage = es.onerror = null;
    for (const name of events) es.removeEventListener(name, onMessage);
  };
  early.set(url, e);
  setTimeout(() => {
    if (early.get(url) !== e) return;
    early.delete(url);
    e.detach();
    es.close();
  }, EARLY_STREAM_MS);
}

/** Takes url's early stream, if one is open. */
function takeEarly(url: string): Early | undefined {
  const e = early.get(url);
  if (!e) return undefined;
  early.delete(url);
  e.detach();
  if (e.closed) {
    e.es.close();
    return undefined;
  }
  return e;
}

/**
 * streamed follows a server-sent-event stream of a keyed collection. Values
 * are delivered once the stream says its initial list is complete, then after
 * each change. When the stream cannot be opened or the server ends it, the
 * fallback (polling) delivers instead, and the stream is tried again after
 * STREAM_RETRY_MS; polling stops once the stream is back.
 */
export function streamed<T, R>(spec: StreamSpec<T, R>): Live<R> {
  const kicks = new Set<() => void>();
  return {
    subscribe(onData, onError) {
      let stopped = false;
      let es: EventSource | undefined;
      let stopPoll: (() => void) | undefined;
      let poll: Live<R> | undefined;
      let retry: ReturnType<typeof setTimeout> | undefined;
      let store = new Map<string, T>();
      let next: Map<string, T> | undefined; // being filled until ready
      let ready = false;

      let lastEmit = -Infinity;
      let pending: ReturnType<typeof setTimeout> | undefined;
      const emitSoon = () => {
        if (pending) return;
        const wait = lastEmit + STREAM_THROTTLE_MS - Date.now();
        if (store.size < STREAM_THROTTLE_ITEMS || wait <= 0) return emit();
        pending = setTimeout(() => {
          pending = undefined;
          if (!stopped) emit();
        }, wait);
      };
      const emit = () => {
        lastEmit = Date.now();
        const items = [...store.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
        let out: R;
        try {
          out = spec.select(items);
        } catch (e) {
          onError(e);
          return;
        }
        onData(out);
      };
      const fail = () => {
        es?.close();
        es = undefined;
        if (stopped) return;
        if (!stopPoll) {
          poll = spec.fallback();
          stopPoll = poll.subscribe(
            (v) => !stopped && !es && onData(v),
            (e) => !stopped && !es && onError(e),
          );
        }
        clearTimeout(retry);
        retry = setTimeout(open, STREAM_RETRY_MS);
      };
      const handle = (m: StreamMessage) => {
        if (stopped) return;
        let ops: StreamOp<T>[];
        try {
          ops = spec.decode(m);
        } catch {
          return fail();
        }
        let changed = false;
        let complete = false; // the initial list: delivered at once
        for (const o of ops) {
          const target = next ?? store;
          switch (o.op) {
            case 'reset':
              next = undefined;
              store = new Map(o.items.map((i) => [spec.key(i), i]));
              ready = true;
              changed = complete = true;
              break;
            case 'put':
              target.set(spec.key(o.item), o.item);
              changed = changed || target === store;
              break;
            case 'delete':
              changed = (target.delete(spec.key(o.item)) && target === store) || changed;
              break;
            case 'ready':
              if (next) store = next;
              next = undefined;
              ready = true;
              changed = complete = true;
              break;
            case 'error':
              return fail();
          }
        }
        if (!ready || !changed) return;
        // The stream delivers: polling is no longer needed.
        if (stopPoll) {
          stopPoll();
          stopPoll = undefined;
          poll = undefined;
        }
        if (complete) {
          clearTimeout(pending);
          pending = undefined;
          emit();
        } else {
          emitSoon();
        }
      };
      const open = () => {
        if (stopped) return;
        if (!hasEventSource()) return fail();
        const pre = takeEarly(spec.url);
        const src = pre?.es ?? new EventSource(spec.url);
        es = src;
        // (Re)connected: the server sends everything again; keep showing the
        // old values until it has.
        src.onopen = () => {
          next = new Map();
        };
        src.onmessage = (e) => handle({ event: 'message', data: String(e.data) });
        for (const name of spec.events ?? []) {
          src.addEventListener(name, (e) => handle({ event: name, data: String((e as MessageEvent).data) }));
        }
        src.onerror = () => {
          // CONNECTING: EventSource reconnects by itself. CLOSED: refused (not
          // 200, not an event stream): give up on it for now.
          if (src.readyState === 2) fail();
        };
        if (pre?.opened) {
          next = new Map();
          for (const m of pre.messages) handle(m);
        }
      };
      const kick = () => poll?.kick?.();
      kicks.add(kick);
      open();
      return () => {
        stopped = true;
        clearTimeout(retry);
        clearTimeout(pending);
        es?.close();
        stopPoll?.();
        kicks.delete(kick);
      };
    },
    kick() {
      kicks.forEach((k) => k());
    },
  };
}
