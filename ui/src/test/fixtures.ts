import type { Application, ResourceNode } from '../api/types';

const syncs = ['Synced', 'OutOfSync', 'Unknown'];
const healths = ['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'];

/** n apps over 4 projects with every sync and health value, deterministic. */
export function makeApps(n: number): Application[] {
  return Array.from({ length: n }, (_, i) => ({
    metadata: { name: `app-${String(i).padStart(4, '0')}`, namespace: 'gantry-system' },
    spec: {
      project: ['default', 'shop', 'billing', 'infra'][i % 4],
      source: { repoURL: `https://git.example.com/team${i % 10}/repo.git`, path: `apps/${i}`, targetRevision: 'main' },
      destination: { server: 'https://kubernetes.default.svc', namespace: `ns-${i % 7}` },
    },
    status: { sync: { status: syncs[i % 3] }, health: { status: healths[i % 6] } },
  }));
}

export function guestbookTree(): ResourceNode[] {
  return [
    { group: 'apps', version: 'v1', kind: 'Deployment', namespace: 'gb', name: 'web', uid: 'd1', health: { status: 'Healthy' } },
    { group: 'apps', version: 'v1', kind: 'ReplicaSet', namespace: 'gb', name: 'web-7d9', uid: 'rs1', parentRefs: [{ group: 'apps', kind: 'Deployment', namespace: 'gb', name: 'web', uid: 'd1' }], health: { status: 'Healthy' } },
    { version: 'v1', kind: 'Pod', namespace: 'gb', name: 'web-7d9-a', uid: 'p1', parentRefs: [{ group: 'apps', kind: 'ReplicaSet', namespace: 'gb', name: 'web-7d9', uid: 'rs1' }], health: { status: 'Healthy' }, info: [{ name: 'Status Reason', value: 'Running' }] },
    { version: 'v1', kind: 'Pod', namespace: 'gb', name: 'web-7d9-b', uid: 'p2', parentRefs: [{ group: 'apps', kind: 'ReplicaSet', namespace: 'gb', name: 'web-7d9', uid: 'rs1' }], health: { status: 'Progressing' } },
    { version: 'v1', kind: 'Service', namespace: 'gb', name: 'web', uid: 's1', health: { status: 'Healthy' } },
    { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', namespace: 'gb', name: 'web-abc', uid: 'e1', parentRefs: [{ kind: 'Service', namespace: 'gb', name: 'web', uid: 's1' }] },
    { version: 'v1', kind: 'ConfigMap', namespace: 'gb', name: 'settings', uid: 'c1' },
  ];
}
