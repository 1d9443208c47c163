// The new-application form: its checks and the Application it posts (Argo CD's shape).
import type { Application, Cluster } from '../api/types';
import { nameError, repoPathError, repoURLError } from './validate';
import { validateRevision } from './revision';

export const HOST_SERVER = 'https://kubernetes.default.svc';

export interface AppForm {
  name: string;
  project: string;
  repoURL: string;
  revision: string;
  path: string;
  /** The destination cluster's name as /api/v1/clusters lists it. */
  cluster: string;
  namespace: string;
  automated: boolean;
  prune: boolean;
  selfHeal: boolean;
  createNamespace: boolean;
}

export const emptyAppForm: AppForm = {
  name: '',
  project: 'default',
  repoURL: '',
  revision: 'HEAD',
  path: '',
  cluster: 'in-cluster',
  namespace: '',
  automated: false,
  prune: false,
  selfHeal: false,
  createNamespace: true,
};

export type AppFormErrors = Partial<Record<keyof AppForm, string>>;

export function validateAppForm(f: AppForm): AppFormErrors {
  const e: AppFormErrors = {};
  const n = nameError('application', f.name.trim());
  if (n) e.name = n;
  if (!f.project) e.project = 'Choose a project.';
  const r = repoURLError(f.repoURL);
  if (r) e.repoURL = r;
  const rev = validateRevision(f.revision);
  if (rev) e.revision = rev;
  const p = repoPathError(f.path);
  if (p) e.path = p;
  if (!f.cluster) e.cluster = 'Choose a destination cluster.';
  if (f.namespace.trim()) {
    const ns = nameError('namespace', f.namespace.trim());
    if (ns) e.namespace = ns.replace('invalid namespace name', 'invalid namespace');
  }
  return e;
}

/**
 * The Application to POST. A virtual cluster is named by destination.name (its
 * cluster name, p-<project>/<name>); the host by destination.server.
 */
export function applicationFromForm(f: AppForm, clusters: Cluster[]): Application {
  const c = clusters.find((x) => x.name === f.cluster);
  const host = !c || c.server === HOST_SERVER;
  const destination = host ? { server: HOST_SERVER } : { name: c.name };
  const ns = f.namespace.trim();
  const app: Application = {
    metadata: { name: f.name.trim(), namespace: 'p-' + f.project },
    spec: {
      project: f.project,
      source: { repoURL: f.repoURL.trim(), targetRevision: f.revision.trim() || 'HEAD', path: f.path.trim() || '.' },
      destination: ns ? { ...destination, namespace: ns } : destination,
    },
  };
  const syncPolicy: NonNullable<Application['spec']['syncPolicy']> = {};
  if (f.automated) syncPolicy.automated = { prune: f.prune, selfHeal: f.selfHeal };
  if (f.createNamespace) syncPolicy.syncOptions = ['CreateNamespace=true'];
  if (Object.keys(syncPolicy).length) app.spec.syncPolicy = syncPolicy;
  return app;
}

/** How a cluster is offered as a destination. */
export function clusterLabel(c: Cluster): string {
  if (c.server === HOST_SERVER) return `${c.name} (the host)`;
  if (c.virtualCluster) return `${c.virtualCluster} (virtual cluster in ${c.project})`;
  return c.name;
}
