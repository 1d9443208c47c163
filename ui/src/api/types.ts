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

/** One line of a pod's log, as Argo CD's /logs streams them ({result: LogEntry} per line). */
export interface LogEntry {
  content: string;
  podName?: string;
  timeStampStr?: string;
  last?: boolean;
}

/** One action of a resource, as Argo CD lists them. */
export interface ResourceAction {
  name: string;
  disabled?: boolean;
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

/** core/v1 Event (the fields the UI reads); events.k8s.io/v1's note and series too. */
export interface KubeEvent {
  metadata?: { name?: string; namespace?: string; uid?: string; creationTimestamp?: string };
  type?: string;
  reason?: string;
  message?: string;
  note?: string;
  count?: number;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  series?: { count?: number; lastObservedTime?: string };
  involvedObject?: { kind?: string; name?: string; namespace?: string; uid?: string };
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

/** A Kubernetes condition (metav1.Condition). */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown' | string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

export type ProjectRole = 'project-admin' | 'project-member' | 'project-viewer';
export const PROJECT_ROLES: ProjectRole[] = ['project-admin', 'project-member', 'project-viewer'];

export interface Member {
  kind: 'User' | 'Team';
  name: string;
  role: ProjectRole;
}

export interface ProjectQuotas {
  virtualClusters?: number;
  runningVirtualClusters?: number;
  applications?: number;
}

export interface ArgoCDRoleAssignment {
  projectRole?: ProjectRole | '';
  role: string;
}

export interface ArgoCDProjectRole {
  name: string;
  description?: string;
  policies?: string[];
  projectRoles?: ProjectRole[];
  groups?: string[];
}

export interface ArgoCDIntegration {
  enabled?: boolean;
  cluster?: string;
  namespace?: string;
  direct?: boolean;
  importVirtualClusters?: boolean;
  sso?: { enabled?: boolean; host?: string; assignedRoles?: ArgoCDRoleAssignment[] };
  project?: { enabled?: boolean; sourceRepos?: string[]; roles?: ArgoCDProjectRole[] };
}

/** A Kubernetes kind without its version, as Argo CD's AppProject lists name them. */
export interface GroupKind {
  group: string;
  kind: string;
}

/** A project as /api/v1/projects shows it (projectapi.Project). */
export interface Project {
  name: string;
  displayName?: string;
  description?: string;
  namespace: string;
  members: Member[];
  quotas: ProjectQuotas;
  usage?: { virtualClusters: number; runningVirtualClusters: number; applications: number };
  allowedDestinations: { server?: string; name?: string; namespace?: string }[];
  /** What the project's apps may touch besides allowedDestinations (projectapi.Rules); only administrators change them. */
  sourceRepos?: string[];
  localRepositories?: boolean;
  clusterResourceWhitelist?: GroupKind[];
  clusterResourceBlacklist?: GroupKind[];
  namespaceResourceWhitelist?: GroupKind[];
  namespaceResourceBlacklist?: GroupKind[];
  podSecurity?: 'privileged' | 'baseline' | 'restricted';
  network?: { openIngress?: boolean };
  /** The project's database server for its virtual clusters (a Secret in its namespace); null for SQLite. */
  virtualClusterStorage?: { secretName: string } | null;
  /** Whether its virtual clusters may name a datastore of their own, which gantry then connects to. */
  virtualClusterOwnStorage?: boolean;
  argoCD?: ArgoCDIntegration;
  conditions: Condition[];
  created: string;
  deleting?: boolean;
  resourceVersion?: string;
}

/** Whether gantry reaches a cluster, in Argo CD's shape (connectionState). */
export interface ConnectionState {
  status: 'Successful' | 'Failed' | 'Unknown' | string;
  message?: string;
  attemptedAt?: string;
}

/** A cluster an Application or the Argo CD integration may name (/api/v1/clusters, clusterapi.Cluster). */
export interface Cluster {
  name: string;
  server: string;
  project?: string;
  /** Set for a virtual cluster's entry, which gantry registered itself. */
  virtualCluster?: string;
  namespaces?: string[];
  registeredBy?: string;
  info?: { connectionState: ConnectionState; serverVersion?: string };
}

/** A virtual cluster as /api/v1/virtualclusters shows it (vcapi.View). */
export interface VirtualCluster {
  project: string;
  name: string;
  phase: 'Pending' | 'Starting' | 'Running' | 'Sleeping' | 'Failed' | 'Deleting' | '' | string;
  conditions: Condition[];
  message?: string;
  labels: Record<string, string>;
  sleepAfter?: string;
  sleepIgnoreUserAgents?: string[];
  sleeping: boolean;
  deleting: boolean;
  argoCD: boolean | null;
  kubernetesVersion?: string;
  created: string;
  lastActivity?: string;
  endpoint: string;
  directEndpoint?: string;
}

/** A message of the virtual-cluster stream (vcapi.Event). */
export interface VirtualClusterEvent {
  type: 'LIST' | 'ADDED' | 'MODIFIED' | 'DELETED' | 'ERROR';
  items?: VirtualCluster[];
  object?: VirtualCluster;
  message?: string;
}

/** A message of Argo CD's application stream (appapi.StreamEvent). */
export interface ApplicationStreamEvent {
  result?: { type: 'ADDED' | 'MODIFIED' | 'DELETED'; application: Application };
  error?: { code: number; message: string; http_code: number };
}

export interface SSOInfo {
  enabled: boolean;
  name?: string;
  loginURL?: string;
}

/**
 * GET /oidc/login/request: an application's sign-in at gantry's OpenID Connect
 * provider, as the login page shows it and sends it back.
 */
export interface OIDCLoginRequest {
  authRequestID: string;
  /** The application's display name: "to continue to <client>". */
  client: string;
  /** Bound to this sign-in; sent back with the password. */
  csrf: string;
  loginHint?: string;
  /** The upstream sign-in, which comes back to this one. */
  sso?: SSOInfo;
}
