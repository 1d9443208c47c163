// The JSON shapes of gantry's REST API, which are Argo CD's (only the fields the UI reads).

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ApplicationSource {
  repoURL: string;
  path?: string;
  targetRevision?: string;
  chart?: string;
}

export interface ApplicationDestination {
  server?: string;
  name?: string;
  namespace?: string;
}

export type SyncStatusCode = 'Synced' | 'OutOfSync' | 'Unknown' | string;
export type HealthStatusCode =
  | 'Healthy'
  | 'Progressing'
  | 'Degraded'
  | 'Suspended'
  | 'Missing'
  | 'Unknown'
  | string;

export interface HealthStatus {
  status?: HealthStatusCode;
  message?: string;
}

export interface ResourceStatus {
  group?: string;
  version?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  status?: SyncStatusCode;
  health?: HealthStatus;
  hook?: boolean;
  requiresPruning?: boolean;
}

export interface RevisionHistory {
  id: number;
  revision?: string;
  revisions?: string[];
  deployedAt: string;
  deployStartedAt?: string;
  source?: ApplicationSource;
  initiatedBy?: { username?: string; automated?: boolean };
}

export interface OperationState {
  phase: 'Running' | 'Terminating' | 'Failed' | 'Error' | 'Succeeded' | string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  operation?: { sync?: { revision?: string; prune?: boolean; dryRun?: boolean }; initiatedBy?: { username?: string; automated?: boolean } };
  syncResult?: { revision?: string; resources?: { kind: string; name: string; namespace?: string; status?: string; message?: string }[] };
}

export interface Application {
  metadata: ObjectMeta;
  spec: {
    project?: string;
    source?: ApplicationSource;
    sources?: ApplicationSource[];
    destination: ApplicationDestination;
    syncPolicy?: { automated?: { prune?: boolean; selfHeal?: boolean; enabled?: boolean } | null; syncOptions?: string[] };
  };
  status?: {
    sync?: { status?: SyncStatusCode; revision?: string; revisions?: string[] };
    health?: HealthStatus;
    resources?: ResourceStatus[];
    history?: RevisionHistory[];
    conditions?: { type: string; message: string; lastTransitionTime?: string }[];
    reconciledAt?: string;
    operationState?: OperationState;
    sourceType?: string;
    summary?: { images?: string[]; externalURLs?: string[] };
  };
  operation?: unknown;
}

export interface ApplicationList {
  metadata?: { resourceVersion?: string };
  items: Application[] | null;
}

export interface ResourceRef {
  group?: string;
  version?: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
}

export interface ResourceNode extends ResourceRef {
  parentRefs?: ResourceRef[];
  info?: { name: string; value: string }[];
  networkingInfo?: unknown;
  resourceVersion?: string;
  images?: string[];
  health?: HealthStatus;
  createdAt?: string;
}

export interface ApplicationTree {
  nodes: ResourceNode[] | null;
}

export interface ResourceDiff {
  group?: string;
  kind: string;
  namespace?: string;
  name: string;
  targetState?: string;
  liveState?: string;
  normalizedLiveState?: string;
  predictedLiveState?: string;
  diff?: string;
  hook?: boolean;
  modified: boolean;
}

export interface UserInfo {
  loggedIn: boolean;
  username?: string;
  groups?: string[];
}
