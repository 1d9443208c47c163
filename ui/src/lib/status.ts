// How sync, health and operation states are shown: a label, a tone (the colour,
// from the theme) and an icon. Unknown or missing values show as Unknown.
export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'muted' | 'paused';
export type IconName =
  | 'heart'
  | 'heart-broken'
  | 'spinner'
  | 'pause'
  | 'ghost'
  | 'question'
  | 'check'
  | 'arrow-up'
  | 'x';

export interface StatusView {
  label: string;
  tone: Tone;
  icon: IconName;
  /** Argo CD's order for sorting and the filter lists: worst first. */
  rank: number;
}

export const HEALTH_CODES = ['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'] as const;
export const SYNC_CODES = ['Synced', 'OutOfSync', 'Unknown'] as const;

const health: Record<string, StatusView> = {
  Healthy: { label: 'Healthy', tone: 'ok', icon: 'heart', rank: 5 },
  Progressing: { label: 'Progressing', tone: 'info', icon: 'spinner', rank: 3 },
  Degraded: { label: 'Degraded', tone: 'bad', icon: 'heart-broken', rank: 0 },
  Suspended: { label: 'Suspended', tone: 'paused', icon: 'pause', rank: 4 },
  Missing: { label: 'Missing', tone: 'warn', icon: 'ghost', rank: 1 },
  Unknown: { label: 'Unknown', tone: 'muted', icon: 'question', rank: 2 },
};

const sync: Record<string, StatusView> = {
  Synced: { label: 'Synced', tone: 'ok', icon: 'check', rank: 2 },
  OutOfSync: { label: 'OutOfSync', tone: 'warn', icon: 'arrow-up', rank: 0 },
  Unknown: { label: 'Unknown', tone: 'muted', icon: 'question', rank: 1 },
};

const operation: Record<string, StatusView> = {
  Running: { label: 'Syncing', tone: 'info', icon: 'spinner', rank: 0 },
  Terminating: { label: 'Terminating', tone: 'info', icon: 'spinner', rank: 1 },
  Failed: { label: 'Sync failed', tone: 'bad', icon: 'x', rank: 2 },
  Error: { label: 'Sync error', tone: 'bad', icon: 'x', rank: 3 },
  Succeeded: { label: 'Sync OK', tone: 'ok', icon: 'check', rank: 4 },
};

/** The code a status normalises to: empty, null and unknown strings are "Unknown". */
export function healthCode(s: string | undefined | null): string {
  return s && Object.hasOwn(health, s) ? s : 'Unknown';
}

export function syncCode(s: string | undefined | null): string {
  return s && Object.hasOwn(sync, s) ? s : 'Unknown';
}

export function healthView(s: string | undefined | null): StatusView {
  return health[healthCode(s)];
}

export function syncView(s: string | undefined | null): StatusView {
  return sync[syncCode(s)];
}

export function operationView(phase: string | undefined | null): StatusView | null {
  if (!phase) return null;
  return (Object.hasOwn(operation, phase) ? operation[phase] : undefined) ?? { label: phase, tone: 'muted', icon: 'question', rank: 9 };
}
