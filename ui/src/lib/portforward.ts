import type { ResourceRef } from '../api/types';

/**
 * How to open a Service's or Pod's own pages: a kubectl port-forward command,
 * run against the destination cluster. gantry never links to the API server's
 * service or pod proxy on its own origin: what a tenant's workload answers
 * there would run as whoever opened it (the proxy sandboxes such answers, so
 * they would not work as pages anyway). Returns undefined for other kinds.
 */
export function portForwardCommand(node: ResourceRef): string | undefined {
  if (node.group) return undefined;
  const kind = node.kind === 'Service' ? 'service' : node.kind === 'Pod' ? 'pod' : undefined;
  if (!kind) return undefined;
  const ns = node.namespace ? ` --namespace ${node.namespace}` : '';
  return `kubectl port-forward${ns} ${kind}/${node.name} 8080:PORT`;
}
