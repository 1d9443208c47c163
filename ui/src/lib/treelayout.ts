// Lays the resource tree out left to right: the Application, its managed
// resources, then their children by ownerReferences (Deployment → ReplicaSet →
// Pods, Service → EndpointSlice). Each node gets a column (its depth) and a row;
// a parent sits level with the middle of its children. Pure: tested alone.
import type { ResourceNode, ResourceRef } from '../api/types';

export const ROOT_ID = '__app__';

export interface LaidNode {
  id: string;
  /** null for the Application itself. */
  node: ResourceNode | null;
  depth: number;
  /** Row index; may be fractional (centred on children). */
  row: number;
  x: number;
  y: number;
}

export interface LaidEdge {
  from: string;
  to: string;
}

export interface Layout {
  nodes: LaidNode[];
  edges: LaidEdge[];
  width: number;
  height: number;
}

export interface LayoutOptions {
  nodeWidth: number;
  nodeHeight: number;
  colGap: number;
  rowGap: number;
}

export const defaultLayout: LayoutOptions = { nodeWidth: 240, nodeHeight: 56, colGap: 64, rowGap: 14 };

export function refKey(r: ResourceRef): string {
  return `${r.group ?? ''}/${r.kind}/${r.namespace ?? ''}/${r.name}`;
}

export function nodeId(n: ResourceRef): string {
  return n.uid || refKey(n);
}

// Kinds in the order a reader expects them under the app: what others depend on first.
const kindOrder = [
  'Namespace',
  'ServiceAccount',
  'Secret',
  'ConfigMap',
  'PersistentVolumeClaim',
  'Role',
  'RoleBinding',
  'ClusterRole',
  'ClusterRoleBinding',
  'Service',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'Pod',
  'Endpoints',
  'EndpointSlice',
  'Ingress',
];

function kindRank(kind: string): number {
  const i = kindOrder.indexOf(kind);
  return i < 0 ? kindOrder.length : i;
}

export function compareNodes(a: ResourceNode, b: ResourceNode): number {
  return (
    kindRank(a.kind) - kindRank(b.kind) ||
    a.kind.localeCompare(b.kind) ||
    (a.namespace ?? '').localeCompare(b.namespace ?? '') ||
    a.name.localeCompare(b.name)
  );
}

export function layoutTree(nodes: ResourceNode[], opts: LayoutOptions = defaultLayout): Layout {
  const byId = new Map<string, ResourceNode>();
  const byKey = new Map<string, string>();
  for (const n of nodes) {
    const id = nodeId(n);
    byId.set(id, n);
    byKey.set(refKey(n), id);
  }
  const resolve = (r: ResourceRef): string | undefined => {
    if (r.uid && byId.has(r.uid)) return r.uid;
    return byKey.get(refKey(r));
  };

  // Every edge from a node's parents; the first resolvable parent places the node.
  const children = new Map<string, string[]>();
  const edges: LaidEdge[] = [];
  const primary = new Map<string, string>();
  const add = (p: string, c: string) => {
    if (!children.has(p)) children.set(p, []);
    children.get(p)!.push(c);
  };
  for (const n of nodes) {
    const id = nodeId(n);
    const parents = (n.parentRefs ?? []).map(resolve).filter((p): p is string => !!p && p !== id);
    if (parents.length === 0) {
      primary.set(id, ROOT_ID);
      edges.push({ from: ROOT_ID, to: id });
      continue;
    }
    primary.set(id, parents[0]);
    for (const p of new Set(parents)) edges.push({ from: p, to: id });
  }
  for (const [c, p] of primary) add(p, c);

  // Place depth-first from the root; a node reached again (an ownership cycle,
  // or unreachable from the root) is placed under the root once.
  const placed = new Map<string, LaidNode>();
  let nextRow = 0;
  const sortIds = (ids: string[]) => ids.sort((a, b) => compareNodes(byId.get(a)!, byId.get(b)!));
  const place = (id: string, depth: number, onPath: Set<string>): LaidNode => {
    const kids = sortIds((children.get(id) ?? []).filter((k) => !placed.has(k) && !onPath.has(k)));
    const me: LaidNode = { id, node: id === ROOT_ID ? null : byId.get(id)!, depth, row: 0, x: 0, y: 0 };
    placed.set(id, me);
    if (kids.length === 0) {
      me.row = nextRow++;
    } else {
      onPath.add(id);
      const laid = kids.map((k) => place(k, depth + 1, onPath));
      onPath.delete(id);
      me.row = (laid[0].row + laid[laid.length - 1].row) / 2;
    }
    return me;
  };
  place(ROOT_ID, 0, new Set());
  // Whatever a cycle left unplaced hangs from the root.
  for (const n of nodes) {
    const id = nodeId(n);
    if (!placed.has(id)) {
      edges.push({ from: ROOT_ID, to: id });
      place(id, 1, new Set());
    }
  }

  let maxDepth = 0;
  let maxRow = 0;
  for (const n of placed.values()) {
    n.x = n.depth * (opts.nodeWidth + opts.colGap);
    n.y = n.row * (opts.nodeHeight + opts.rowGap);
    maxDepth = Math.max(maxDepth, n.depth);
    maxRow = Math.max(maxRow, n.row);
  }
  const seen = new Set<string>();
  const uniq = edges.filter((e) => {
    const k = e.from + '→' + e.to;
    if (seen.has(k) || !placed.has(e.from) || !placed.has(e.to)) return false;
    seen.add(k);
    return true;
  });
  return {
    nodes: [...placed.values()],
    edges: uniq,
    width: (maxDepth + 1) * opts.nodeWidth + maxDepth * opts.colGap,
    height: (maxRow + 1) * opts.nodeHeight + maxRow * opts.rowGap,
  };
}

/** A short name for a kind, as kubectl abbreviates it. */
export function kindShort(kind: string): string {
  const m: Record<string, string> = {
    Deployment: 'deploy',
    ReplicaSet: 'rs',
    Pod: 'pod',
    Service: 'svc',
    EndpointSlice: 'eps',
    Endpoints: 'ep',
    ConfigMap: 'cm',
    Secret: 'secret',
    StatefulSet: 'sts',
    DaemonSet: 'ds',
    Job: 'job',
    CronJob: 'cj',
    Ingress: 'ing',
    Namespace: 'ns',
    ServiceAccount: 'sa',
    PersistentVolumeClaim: 'pvc',
    ControllerRevision: 'rev',
  };
  return m[kind] ?? kind.toLowerCase().slice(0, 6);
}
