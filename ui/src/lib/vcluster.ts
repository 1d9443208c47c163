// How virtual clusters are shown: phase tones, conditions, creation steps, age.
import type { Condition, VirtualCluster } from '../api/types';
import type { IconName, StatusView } from './status';

const phases: Record<string, StatusView> = {
  Pending: { label: 'Pending', tone: 'muted', icon: 'spinner', rank: 1 },
  Starting: { label: 'Starting', tone: 'info', icon: 'spinner', rank: 2 },
  Running: { label: 'Running', tone: 'ok', icon: 'check', rank: 5 },
  Sleeping: { label: 'Sleeping', tone: 'paused', icon: 'pause', rank: 4 },
  Failed: { label: 'Failed', tone: 'bad', icon: 'x', rank: 0 },
  Deleting: { label: 'Deleting', tone: 'warn', icon: 'spinner', rank: 3 },
};

export function phaseView(phase: string | undefined): StatusView {
  if (phase && Object.hasOwn(phases, phase)) return phases[phase];
  return { label: phase || 'Pending', tone: 'muted', icon: 'spinner' as IconName, rank: 1 };
}

export function condition(conds: Condition[] | undefined, type: string): Condition | undefined {
  return conds?.find((c) => c.type === type);
}

export function conditionTrue(conds: Condition[] | undefined, type: string): boolean {
  return condition(conds, type)?.status === 'True';
}

export type StepState = 'done' | 'active' | 'waiting' | 'failed';

export interface Step {
  key: string;
  label: string;
  state: StepState;
  detail?: string;
}

/**
 * The steps of a new virtual cluster until it is ready: accepted, Pending
 * (the reconciler has it), Starting (control plane deploying: Deployed),
 * Running (API server Ready), Online (reachable). A failure marks the step it
 * happened at.
 */
export function creationSteps(vc: VirtualCluster | undefined): Step[] {
  const conds = vc?.conditions ?? [];
  const phase = vc?.phase ?? '';
  const deployed = condition(conds, 'Deployed');
  const ready = condition(conds, 'Ready');
  const online = condition(conds, 'Online');
  const failed = phase === 'Failed';
  const order = ['Pending', 'Starting', 'Running'];
  const at = phase === 'Sleeping' ? 3 : order.indexOf(phase); // -1 before the reconciler's first pass
  const steps: Step[] = [
    { key: 'accepted', label: 'Accepted by gantry', state: vc ? 'done' : 'active' },
    {
      key: 'pending',
      label: 'Pending: scheduled by the reconciler',
      state: !vc ? 'waiting' : at >= 1 || deployed ? 'done' : failed ? 'failed' : 'active',
    },
    {
      key: 'deployed',
      label: 'Starting: control plane deployed (Deployed)',
      state: deployed?.status === 'True' ? 'done' : deployed?.status === 'False' && failed ? 'failed' : at >= 1 ? 'active' : 'waiting',
      detail: deployed?.message,
    },
    {
      key: 'ready',
      label: 'Running: API server ready (Ready)',
      state: ready?.status === 'True' ? 'done' : failed && deployed?.status === 'True' ? 'failed' : deployed?.status === 'True' ? 'active' : 'waiting',
      detail: ready?.status === 'True' ? undefined : ready?.message,
    },
    {
      key: 'online',
      label: 'Online: reachable through gantry (Online)',
      state: online?.status === 'True' ? 'done' : ready?.status === 'True' ? 'active' : 'waiting',
      detail: online?.status === 'True' ? undefined : online?.message,
    },
  ];
  return steps;
}

/** True once the cluster can be used: Running with Ready. */
export function isReady(vc: VirtualCluster | undefined): boolean {
  return !!vc && vc.phase === 'Running' && conditionTrue(vc.conditions, 'Ready');
}

/** "5s", "3m", "2h", "4d": how long ago ts was, as kubectl shows ages. */
export function age(ts: string | undefined, now = Date.now()): string {
  if (!ts) return '';
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** How the "Add to Argo CD" choice is sent: true, false, or left out (the project decides). */
export type ArgoChoice = 'project' | 'yes' | 'no';

export function argoCDValue(c: ArgoChoice): boolean | undefined {
  return c === 'yes' ? true : c === 'no' ? false : undefined;
}

export function argoCDText(v: boolean | null | undefined): string {
  return v === true ? 'added' : v === false ? 'not added' : "project's default";
}

/** The CLI command that connects kubectl to the cluster as oneself. */
export function connectCommand(project: string, name: string): string {
  return `gantry vcluster connect ${name} --project ${project} --sso`;
}
