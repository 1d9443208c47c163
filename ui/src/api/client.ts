// The one place the UI talks to gantry. Sessions are HttpOnly cookies set by
// /api/v1/session, so no token is ever handled here. A 401 is answered by one
// refresh attempt (the refresh cookie), then by the login page.
import type {
  Application,
  ApplicationList,
  ApplicationTree,
  Cluster,
  KubeEvent,
  LogEntry,
  Member,
  OIDCLoginRequest,
  Project,
  ResourceAction,
  ResourceDiff,
  ResourceRef,
  SSOInfo,
  UserInfo,
  VirtualCluster,
} from './types';

/** An error the server answered with: its status and its message ({error, message, code}). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type UnauthorizedHandler = () => void;
let onUnauthorized: UnauthorizedHandler = () => {};

/** Called when a request stays 401 after a refresh attempt: the app sends the user to the login page. */
export function setUnauthorizedHandler(h: UnauthorizedHandler) {
  onUnauthorized = h;
}

let refreshing: Promise<boolean> | null = null;

function refreshSession(): Promise<boolean> {
  // Concurrent 401s (the polls) share one refresh.
  refreshing ??= fetch('/api/v1/session/refresh', { method: 'POST', credentials: 'same-origin' })
    .then((r) => r.ok)
    .catch(() => false)
    .finally(() => {
      setTimeout(() => (refreshing = null), 0);
    });
  return refreshing;
}

async function errorFrom(r: Response): Promise<ApiError> {
  let msg = `${r.status} ${r.statusText}`.trim();
  try {
    const text = await r.text();
    try {
      const body = JSON.parse(text);
      msg = body.message || body.error || msg;
    } catch {
      if (text.trim()) msg = text.trim().slice(0, 500);
    }
  } catch {
    /* keep the status line */
  }
  return new ApiError(r.status, msg);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  /** Do not refresh or redirect on 401 (the session API itself). */
  noAuthRedirect?: boolean;
}

async function send(path: string, opts: RequestOptions, accept: string): Promise<Response> {
  const init: RequestInit = {
    method: opts.method ?? 'GET',
    credentials: 'same-origin',
    signal: opts.signal,
    headers: { Accept: accept },
  };
  if (opts.body !== undefined) {
    init.body = JSON.stringify(opts.body);
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
  }
  let r = await fetch(path, init);
  if (r.status === 401 && !opts.noAuthRedirect) {
    if (await refreshSession()) r = await fetch(path, init);
    if (r.status === 401) {
      onUnauthorized();
      throw await errorFrom(r);
    }
  }
  if (!r.ok) throw await errorFrom(r);
  return r;
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const r = await send(path, opts, 'application/json');
  const text = await r.text();
  return (text ? JSON.parse(text) : {}) as T;
}

/** A GET whose answer is text (a kubeconfig), with the same session handling. */
export async function requestText(path: string, opts: RequestOptions = {}): Promise<string> {
  return (await send(path, opts, '*/*')).text();
}

/** Calls onLine for each line of r's body as it arrives. */
async function readLines(r: Response, signal: AbortSignal | undefined, onLine: (line: string) => void) {
  if (!r.body) {
    for (const l of (await r.text()).split('\n')) if (l.trim()) onLine(l);
    return;
  }
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal?.aborted) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) onLine(line);
      }
    }
    if (buf.trim() && !signal?.aborted) onLine(buf);
  } finally {
    reader.releaseLock();
  }
}

const enc = encodeURIComponent;

/** Argo CD's query naming one node of an app's tree. */
function refQuery(ref: ResourceRef): Record<string, string> {
  const q: Record<string, string> = { namespace: ref.namespace ?? '', resourceName: ref.name, kind: ref.kind };
  if (ref.group) q.group = ref.group;
  if (ref.version) q.version = ref.version;
  return q;
}

function appPath(name: string, namespace?: string, sub = '', extra: Record<string, string> = {}) {
  const q = new URLSearchParams(extra);
  if (namespace) q.set('appNamespace', namespace);
  const qs = q.toString();
  return `/api/v1/applications/${enc(name)}${sub ? '/' + sub : ''}${qs ? '?' + qs : ''}`;
}

const vcPath = (project: string, name: string, sub = '') =>
  `/api/v1/virtualclusters/${enc(project)}/${enc(name)}${sub ? '/' + sub : ''}`;

/** GET /api/v1/settings: what the UI shows about this gantry. */
export interface Settings {
  version?: string;
  url?: string;
  host?: 'embedded' | 'external';
  /** Nodes simulated by KWOK (the embedded host): no container runs on them. */
  simulatedNodes?: number;
  /** Nodes where containers really run (label gantry.dev/real=true). */
  realNodes?: string[];
  oidcIssuer?: string;
}

export interface CreateVirtualCluster {
  name: string;
  labels?: Record<string, string>;
  sleepAfter?: string;
  argoCD?: boolean;
}

export interface CreateProject {
  name: string;
  displayName?: string;
  description?: string;
}

export const api = {
  userinfo: (signal?: AbortSignal) =>
    request<UserInfo>('/api/v1/session/userinfo', { signal, noAuthRedirect: true }),
  login: (username: string, password: string) =>
    request<unknown>('/api/v1/session', { method: 'POST', body: { username, password }, noAuthRedirect: true }),
  logout: () => request<unknown>('/api/v1/session', { method: 'DELETE', noAuthRedirect: true }),

  ssoInfo: (signal?: AbortSignal) => request<SSOInfo>('/api/v1/sso/info', { signal, noAuthRedirect: true }),
  /** An application's sign-in at gantry's OpenID Connect provider (/login?oidc=<id>). */
  oidcLoginRequest: (authRequestID: string, signal?: AbortSignal) =>
    request<OIDCLoginRequest>('/oidc/login/request?authRequestID=' + enc(authRequestID), { signal, noAuthRedirect: true }),
  /** Its password check; the answer says where the browser goes next (the provider's callback). */
  oidcLogin: (body: { authRequestID: string; csrf: string; username: string; password: string }) =>
    request<{ redirect: string }>('/oidc/login', { method: 'POST', body, noAuthRedirect: true }),
  settings: (signal?: AbortSignal) => request<Settings>('/api/v1/settings', { signal, noAuthRedirect: true }),

  listApplications: async (signal?: AbortSignal, project?: string) => {
    const l = await request<ApplicationList>('/api/v1/applications' + (project ? '?projects=' + enc(project) : ''), { signal });
    return l.items ?? [];
  },
  createApplication: (app: Application) => request<Application>('/api/v1/applications', { method: 'POST', body: app }),
  getApplication: (name: string, namespace?: string, signal?: AbortSignal) =>
    request<Application>(appPath(name, namespace), { signal }),
  /** Argo CD's refresh: GET with ?refresh=normal|hard. */
  refreshApplication: (name: string, namespace?: string, hard = false) =>
    request<Application>(appPath(name, namespace, '', { refresh: hard ? 'hard' : 'normal' })),
  resourceTree: async (name: string, namespace?: string, signal?: AbortSignal) => {
    const t = await request<ApplicationTree>(appPath(name, namespace, 'resource-tree'), { signal });
    return t.nodes ?? [];
  },
  managedResources: async (name: string, namespace?: string, signal?: AbortSignal) => {
    const r = await request<{ items: ResourceDiff[] | null }>(appPath(name, namespace, 'managed-resources'), { signal });
    return r.items ?? [];
  },
  /** Argo CD's /resource: the live object of any node of the app's tree, as JSON text. */
  resource: async (name: string, namespace: string | undefined, ref: ResourceRef, signal?: AbortSignal) => {
    const r = await request<{ manifest: string }>(appPath(name, namespace, 'resource', refQuery(ref)), { signal });
    return r.manifest;
  },
  /** Argo CD's resource actions of one node of the tree (restart, pause, resume, create-job). */
  resourceActions: async (name: string, namespace: string | undefined, ref: ResourceRef, signal?: AbortSignal) => {
    const r = await request<{ actions: ResourceAction[] | null }>(appPath(name, namespace, 'resource/actions', refQuery(ref)), { signal });
    return r.actions ?? [];
  },
  /** Runs one; needs applications action/<group>/<kind>/<action>. create-job answers the Job's name. */
  runResourceAction: (name: string, namespace: string | undefined, ref: ResourceRef, action: string) =>
    request<{ created?: string }>(appPath(name, namespace, 'resource/actions', refQuery(ref)), { method: 'POST', body: { action } }),
  /** Argo CD's /events: a node's core/v1 Events (the app's own without a ref). */
  events: async (name: string, namespace: string | undefined, ref?: ResourceRef, signal?: AbortSignal) => {
    const q: Record<string, string> = {};
    if (ref) {
      q.resourceNamespace = ref.namespace ?? '';
      q.resourceName = ref.name;
      if (ref.uid) q.resourceUID = ref.uid;
    }
    const r = await request<{ items: KubeEvent[] | null }>(appPath(name, namespace, 'events', q), { signal });
    return r.items ?? [];
  },
  /**
   * Argo CD's /logs: the log of a pod of the app's tree, streamed. onEntry
   * gets each line as it comes; the promise ends with the stream (at once
   * without follow, when signal aborts with it).
   */
  podLogs: async (
    name: string,
    namespace: string | undefined,
    q: { podName: string; namespace?: string; container?: string; follow?: boolean; previous?: boolean; tailLines?: number },
    onEntry: (e: LogEntry) => void,
    signal?: AbortSignal,
  ) => {
    const query: Record<string, string> = { podName: q.podName, namespace: q.namespace ?? '' };
    if (q.container) query.container = q.container;
    if (q.follow) query.follow = 'true';
    if (q.previous) query.previous = 'true';
    if (q.tailLines !== undefined) query.tailLines = String(q.tailLines);
    const r = await send(appPath(name, namespace, 'logs', query), { signal }, 'application/json');
    await readLines(r, signal, (line) => {
      const e = (JSON.parse(line) as { result?: LogEntry }).result;
      if (e && !e.last) onEntry(e);
    });
  },
  sync: (name: string, namespace: string | undefined, body: { prune: boolean; dryRun: boolean; revision?: string }) =>
    request<Application>(appPath(name, namespace, 'sync'), { method: 'POST', body }),
  rollback: (name: string, namespace: string | undefined, body: { id: number; prune: boolean; dryRun: boolean }) =>
    request<Application>(appPath(name, namespace, 'rollback'), { method: 'POST', body }),
  deleteApplication: (name: string, namespace: string | undefined, cascade: boolean, propagationPolicy: string) =>
    request<unknown>(
      appPath(name, namespace, '', { cascade: String(cascade), ...(cascade ? { propagationPolicy } : {}) }),
      { method: 'DELETE' },
    ),

  listProjects: async (signal?: AbortSignal) => (await request<{ items: Project[] | null }>('/api/v1/projects', { signal })).items ?? [],
  getProject: (name: string, signal?: AbortSignal) => request<Project>(`/api/v1/projects/${enc(name)}`, { signal }),
  createProject: (p: CreateProject) => request<Project>('/api/v1/projects', { method: 'POST', body: p }),
  /** PUT merges: only the fields sent change; null clears one. */
  updateProject: (name: string, changes: Record<string, unknown>) =>
    request<Project>(`/api/v1/projects/${enc(name)}`, { method: 'PUT', body: changes }),
  deleteProject: (name: string) => request<unknown>(`/api/v1/projects/${enc(name)}`, { method: 'DELETE' }),
  addMember: (project: string, m: Member) =>
    request<Project>(`/api/v1/projects/${enc(project)}/members`, { method: 'POST', body: m }),
  removeMember: (project: string, kind: string, name: string) =>
    request<Project>(`/api/v1/projects/${enc(project)}/members/${enc(kind)}/${enc(name)}`, { method: 'DELETE' }),
  listClusters: async (signal?: AbortSignal) => (await request<{ items: Cluster[] | null }>('/api/v1/clusters', { signal })).items ?? [],
  deleteCluster: (name: string) => request<Cluster>(`/api/v1/clusters/${enc(name)}`, { method: 'DELETE' }),

  listVirtualClusters: async (project?: string, signal?: AbortSignal) =>
    (await request<{ items: VirtualCluster[] | null }>('/api/v1/virtualclusters' + (project ? '?project=' + enc(project) : ''), { signal }))
      .items ?? [],
  getVirtualCluster: (project: string, name: string, signal?: AbortSignal) => request<VirtualCluster>(vcPath(project, name), { signal }),
  createVirtualCluster: (project: string, body: CreateVirtualCluster) =>
    request<VirtualCluster>(`/api/v1/virtualclusters/${enc(project)}`, { method: 'POST', body }),
  deleteVirtualCluster: (project: string, name: string) => request<VirtualCluster>(vcPath(project, name), { method: 'DELETE' }),
  sleepVirtualCluster: (project: string, name: string) => request<VirtualCluster>(vcPath(project, name, 'sleep'), { method: 'POST' }),
  wakeVirtualCluster: (project: string, name: string) => request<VirtualCluster>(vcPath(project, name, 'wake'), { method: 'POST' }),
  kubeconfig: (project: string, name: string) => requestText(vcPath(project, name, 'kubeconfig')),
};
