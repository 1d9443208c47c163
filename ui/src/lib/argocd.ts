// The Argo CD settings of a project: the form's state, to and from the API's
// ArgoCDIntegration, and its condition in words.
import type { ArgoCDIntegration, Condition, ProjectRole } from '../api/types';
import { PROJECT_ROLES } from '../api/types';
import { urlError } from './validate';

/** Argo CD's built-in roles, as the form names them. */
export const BUILTIN_ROLES = [
  { role: 'role:readonly', label: 'Read Only' },
  { role: 'role:admin', label: 'Admin' },
];

export interface ArgoForm {
  enabled: boolean;
  cluster: string; // '' = the host
  namespace: string;
  importVirtualClusters: boolean;
  ssoEnabled: boolean;
  ssoHost: string;
  /** Argo CD roles per project role. */
  roles: Record<ProjectRole, string[]>;
  appProject: boolean;
  sourceRepos: string; // one per line
}

export function formFromArgo(a: ArgoCDIntegration | undefined): ArgoForm {
  const roles: Record<ProjectRole, string[]> = { 'project-admin': [], 'project-member': [], 'project-viewer': [] };
  for (const r of a?.sso?.assignedRoles ?? []) {
    // An assignment without a project role is for every member: shown under each.
    const targets = r.projectRole ? [r.projectRole] : PROJECT_ROLES;
    for (const t of targets) if (!roles[t].includes(r.role)) roles[t].push(r.role);
  }
  return {
    enabled: !!a?.enabled,
    cluster: a?.cluster === 'in-cluster' ? '' : (a?.cluster ?? ''),
    namespace: a?.namespace || 'argocd',
    importVirtualClusters: a?.importVirtualClusters !== false,
    ssoEnabled: !!a?.sso?.enabled,
    ssoHost: a?.sso?.host ?? '',
    roles,
    appProject: !!a?.project?.enabled,
    sourceRepos: (a?.project?.sourceRepos ?? []).join('\n'),
  };
}

/** The integration to send: the form over what the project had (fields the form does not show are kept). */
export function argoFromForm(f: ArgoForm, prev: ArgoCDIntegration | undefined): ArgoCDIntegration {
  // Unchanged roles are sent as they were (an assignment to every member stays
  // one), so that saving other settings does not look like granting roles.
  const same = JSON.stringify(f.roles) === JSON.stringify(formFromArgo(prev).roles);
  const assignedRoles =
    same && prev?.sso?.assignedRoles
      ? prev.sso.assignedRoles
      : PROJECT_ROLES.flatMap((pr) => f.roles[pr].map((role) => ({ projectRole: pr, role })));
  const out: ArgoCDIntegration = {
    ...prev,
    enabled: f.enabled,
    cluster: f.cluster,
    namespace: f.namespace.trim() === 'argocd' ? '' : f.namespace.trim(),
    importVirtualClusters: f.importVirtualClusters,
    sso: { ...prev?.sso, enabled: f.ssoEnabled, host: f.ssoHost.trim(), assignedRoles },
    project: {
      ...prev?.project,
      enabled: f.appProject,
      sourceRepos: f.sourceRepos
        .split(/[\n,]/)
        .map((s) => s.trim())
        .filter(Boolean),
    },
  };
  if (!out.cluster) delete out.cluster;
  if (!out.namespace) delete out.namespace;
  if (!f.ssoEnabled && !out.sso?.host && !assignedRoles.length) delete out.sso;
  if (!f.appProject && !out.project?.sourceRepos?.length && !out.project?.roles?.length) delete out.project;
  return out;
}

export type ArgoErrors = Partial<Record<'namespace' | 'ssoHost' | 'roles' | 'sourceRepos', string>>;

const ROLE_NAME = /^[A-Za-z0-9_.:@/-]+$/;

export function roleNameError(r: string): string | undefined {
  const t = r.trim();
  if (!t) return 'Enter a role name, e.g. role:deployer.';
  if (!ROLE_NAME.test(t)) return `"${t}" is not an Argo CD role name: letters, digits and - _ . : @ /, e.g. role:deployer`;
  return undefined;
}

export function validateArgo(f: ArgoForm): ArgoErrors {
  const e: ArgoErrors = {};
  const ns = f.namespace.trim();
  if (ns && (ns.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns))) e.namespace = `"${ns}" is not a namespace name (lower-case letters, digits and '-')`;
  if (f.ssoEnabled) {
    const u = urlError(f.ssoHost);
    if (u) e.ssoHost = u;
  }
  for (const pr of PROJECT_ROLES) {
    for (const r of f.roles[pr]) {
      const re = roleNameError(r);
      if (re) e.roles = re;
    }
  }
  return e;
}

const reasons: Record<string, string> = {
  Synced: 'Synced: Argo CD has what this project needs',
  ArgoCDNamespaceMissing: "Argo CD's namespace does not exist there",
  ArgoCDNotInstalled: 'Argo CD is not installed there (argocd-cm is missing)',
  AppProjectCRDMissing: "That cluster has no AppProject kind (Argo CD's CRDs are missing)",
  Forbidden: 'gantry may not write there',
  ClusterUnreachable: 'The cluster where Argo CD runs does not answer',
  RoleNotFound: 'An assigned Argo CD role is not defined in argocd-rbac-cm',
  Conflict: 'Something there was not written by gantry',
  InvalidSpec: 'The settings are not valid',
  Error: 'The integration failed',
};

export interface ConditionWords {
  tone: 'ok' | 'bad' | 'muted' | 'info';
  title: string;
  message?: string;
}

/** The project's ArgoIntegrationSynced condition, in words. */
export function argoConditionWords(conds: Condition[] | undefined, enabled: boolean): ConditionWords {
  const c = conds?.find((x) => x.type === 'ArgoIntegrationSynced');
  if (!c) return enabled ? { tone: 'info', title: 'Waiting for gantry to apply the settings…' } : { tone: 'muted', title: 'Not enabled' };
  if (c.status === 'True') return { tone: 'ok', title: reasons.Synced, message: c.message };
  const title = (c.reason && reasons[c.reason]) || c.reason || 'Not synced';
  return { tone: c.status === 'Unknown' ? 'info' : 'bad', title, message: c.message };
}

const serverReasons: Record<string, string> = {
  ArgoCDServerRestarted: 'gantry restarted argocd-server for its new sign-in settings',
  RolloutRestarted: 'argocd-server was restarted after its sign-in settings changed',
  RestartDisabled: 'argocd-server must be restarted (gantry was told not to)',
  ServerDeploymentNotFound: 'argocd-server must be restarted (gantry cannot find its Deployment)',
  Forbidden: 'argocd-server must be restarted (gantry may not)',
};

/** The project's ArgoCDServerUpToDate condition in words; undefined when there is none. */
export function argoServerWords(conds: Condition[] | undefined): ConditionWords | undefined {
  const c = conds?.find((x) => x.type === 'ArgoCDServerUpToDate');
  if (!c) return undefined;
  const title = (c.reason && serverReasons[c.reason]) || c.reason || 'argocd-server';
  return { tone: c.status === 'True' ? 'ok' : 'bad', title, message: c.message };
}
