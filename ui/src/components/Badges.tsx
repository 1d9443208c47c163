import { healthView, operationView, syncView, type StatusView } from '../lib/status';
import { phaseView } from '../lib/vcluster';
import { Icon } from './Icon';

function Badge({ view, prefix, title }: { view: StatusView; prefix: string; title?: string }) {
  return (
    <span className={`badge tone-${view.tone}`} title={title ?? `${prefix}: ${view.label}`} data-status={view.label}>
      <Icon name={view.icon} />
      <span className="badge-label">{view.label}</span>
    </span>
  );
}

export function HealthBadge({ status, message }: { status?: string; message?: string }) {
  const v = healthView(status);
  return <Badge view={v} prefix="Health" title={message ? `Health: ${v.label}: ${message}` : undefined} />;
}

export function SyncBadge({ status }: { status?: string }) {
  return <Badge view={syncView(status)} prefix="Sync" />;
}

export function OperationBadge({ phase, message }: { phase?: string; message?: string }) {
  const v = operationView(phase);
  if (!v) return null;
  return <Badge view={v} prefix="Last operation" title={message ? `${v.label}: ${message}` : undefined} />;
}

export function PhaseBadge({ phase, message }: { phase?: string; message?: string }) {
  const v = phaseView(phase);
  return <Badge view={v} prefix="Phase" title={message ? `Phase: ${v.label}: ${message}` : undefined} />;
}

/** A condition's status as a small badge: True (ok), False (bad), Unknown. */
export function ConditionBadge({ status }: { status: string }) {
  const tone = status === 'True' ? 'ok' : status === 'False' ? 'bad' : 'muted';
  const icon = status === 'True' ? 'check' : status === 'False' ? 'x' : 'question';
  return <Badge view={{ label: status, tone, icon, rank: 0 }} prefix="Status" />;
}

/** A cluster's connection state as Argo CD shows it: Successful (ok), Failed (bad), else Unknown. */
export function ConnectionBadge({ status, message }: { status?: string; message?: string }) {
  const view: StatusView =
    status === 'Successful'
      ? { label: 'Successful', tone: 'ok', icon: 'check', rank: 0 }
      : status === 'Failed'
        ? { label: 'Failed', tone: 'bad', icon: 'x', rank: 0 }
        : { label: 'Unknown', tone: 'muted', icon: 'question', rank: 0 };
  return <Badge view={view} prefix="Connection" title={message ? `Connection: ${view.label}: ${message}` : undefined} />;
}
