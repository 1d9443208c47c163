import type { GroupKind, Project } from '../api/types';

const HOST = 'https://kubernetes.default.svc';

function kinds(list: GroupKind[] | undefined): string[] {
  return (list ?? []).map((gk) => (gk.group ? `${gk.kind}.${gk.group}` : gk.kind));
}

/** The lines of a project's boundaries, as gantry enforces them (gitops/policy, pod security). */
export function ruleLines(p: Project): { label: string; value: string[] }[] {
  const dests = [`${p.namespace} on the host, and the project's own virtual clusters (always)`];
  for (const d of p.allowedDestinations) {
    const cluster = d.server === HOST ? 'the host' : d.server || d.name || '?';
    dests.push(`${d.namespace ?? '*'} on ${cluster}`);
  }
  const repos = p.sourceRepos?.length ? [...p.sourceRepos] : ['any https or ssh repository'];
  if (p.localRepositories) repos.push("local repositories (file://) on gantry's machine");
  const cluster = kinds(p.clusterResourceWhitelist);
  const lines = [
    { label: 'Deploys to', value: dests },
    { label: 'Reads from', value: repos },
    { label: 'Cluster-scoped kinds', value: cluster.length ? cluster : ['none outside its own virtual clusters (any inside them)'] },
    { label: 'Pod security', value: [p.podSecurity ?? 'baseline'] },
    { label: 'Ingress to its virtual clusters', value: [p.network?.openIngress ? 'from anywhere on the host' : 'only from themselves and gantry'] },
    {
      label: 'Virtual cluster storage',
      value: [
        p.virtualClusterStorage?.secretName
          ? `a database each on the server of Secret ${p.namespace}/${p.virtualClusterStorage.secretName}`
          : 'SQLite, each its own',
        p.virtualClusterOwnStorage
          ? 'a cluster may name its own datastore (gantry connects to it)'
          : 'a cluster may not name its own datastore',
      ],
    },
  ];
  const deny = [...kinds(p.clusterResourceBlacklist), ...kinds(p.namespaceResourceBlacklist)];
  if (deny.length) lines.push({ label: 'Never', value: deny });
  const only = kinds(p.namespaceResourceWhitelist);
  if (only.length) lines.push({ label: 'Namespaced kinds', value: only });
  return lines;
}

/**
 * What the project's apps and virtual clusters may touch. Read-only: these
 * bound the project, so only an administrator changes them (gantry project
 * allow / revoke, or the REST API).
 */
export function ProjectRules({ project }: { project: Project }) {
  return (
    <section className="card settings-form" aria-label="Boundaries">
      <p className="field-help">
        gantry enforces these where the work happens: the GitOps engine refuses an app that reaches past them before anything is written, and
        workloads in the project's virtual clusters meet its Pod Security level. Only an administrator changes them, with{' '}
        <code>gantry project allow {project.name} …</code> or <code>gantry project revoke {project.name} …</code>.
      </p>
      <dl className="rules">
        {ruleLines(project).map((l) => (
          <div key={l.label}>
            <dt>{l.label}</dt>
            {l.value.map((v) => (
              <dd key={v}>{v}</dd>
            ))}
          </div>
        ))}
      </dl>
    </section>
  );
}
