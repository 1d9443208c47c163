import type { KubeEvent } from '../api/types';

/** One row of a resource's events table. */
export interface EventRow {
  key: string;
  type: string;
  reason: string;
  message: string;
  /** How long ago it last happened ("5m", "2h"), or "" when the event has no time. */
  age: string;
  count: number;
  warning: boolean;
  /** Last time seen, ms since the epoch (0 when unknown). */
  last: number;
}

/** When an event last happened: lastTimestamp, then eventTime, then firstTimestamp, then its creation. */
export function lastSeen(e: KubeEvent): number {
  for (const t of [e.lastTimestamp, e.series?.lastObservedTime, e.eventTime, e.firstTimestamp, e.metadata?.creationTimestamp]) {
    if (t) {
      const ms = Date.parse(t);
      if (!Number.isNaN(ms)) return ms;
    }
  }
  return 0;
}

/** A duration as kubectl prints ages: 45s, 12m, 3h, 2d. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** The table's rows, newest first; count is at least 1 (a series counts its repeats). */
export function eventRows(items: KubeEvent[], now = Date.now()): EventRow[] {
  return items
    .map((e, i) => {
      const last = lastSeen(e);
      return {
        key: e.metadata?.uid ?? e.metadata?.name ?? String(i),
        type: e.type ?? 'Normal',
        reason: e.reason ?? '',
        message: e.message ?? e.note ?? '',
        age: last ? age(now - last) : '',
        count: Math.max(1, e.count ?? e.series?.count ?? 1),
        warning: e.type === 'Warning',
        last,
      };
    })
    .sort((a, b) => b.last - a.last);
}
