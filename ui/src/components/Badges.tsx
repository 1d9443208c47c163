import { healthView, operationView, syncView, type StatusView } from '../lib/status';
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
