import { render, screen } from '@testing-library/react';
import type { Project } from '../api/types';
import { ProjectRules, ruleLines } from './ProjectRules';

const base: Project = {
  name: 'shop', namespace: 'p-shop', members: [], quotas: {}, allowedDestinations: [], conditions: [], created: '2026-01-01T00:00:00Z',
};

describe('project boundaries', () => {
  it('shows the defaults a project starts with', () => {
    const lines = Object.fromEntries(ruleLines(base).map((l) => [l.label, l.value]));
    expect(lines['Deploys to']).toEqual(["p-shop on the host, and the project's own virtual clusters (always)"]);
    expect(lines['Reads from']).toEqual(['any https or ssh repository']);
    expect(lines['Cluster-scoped kinds']).toEqual(['none outside its own virtual clusters (any inside them)']);
    expect(lines['Pod security']).toEqual(['baseline']);
    expect(lines['Ingress to its virtual clusters']).toEqual(['only from themselves and gantry']);
    expect(lines['Virtual cluster storage']).toEqual(['SQLite, each its own', 'a cluster may not name its own datastore']);
  });

  it('lists what an administrator granted, and says who changes it', () => {
    const p: Project = {
      ...base,
      allowedDestinations: [{ server: 'https://kubernetes.default.svc', namespace: 'shop-*' }, { name: 'prod', namespace: 'shop' }],
      sourceRepos: ['https://github.com/acme/*'],
      localRepositories: true,
      clusterResourceWhitelist: [{ group: 'apiextensions.k8s.io', kind: 'CustomResourceDefinition' }],
      namespaceResourceBlacklist: [{ group: '', kind: 'Secret' }],
      podSecurity: 'restricted',
      network: { openIngress: true },
      virtualClusterStorage: { secretName: 'pg' },
      virtualClusterOwnStorage: true,
    };
    render(<ProjectRules project={p} />);
    for (const text of [
      'shop-* on the host', 'shop on prod', 'https://github.com/acme/*', "local repositories (file://) on gantry's machine",
      'CustomResourceDefinition.apiextensions.k8s.io', 'Secret', 'restricted', 'from anywhere on the host',
      'a database each on the server of Secret p-shop/pg', 'a cluster may name its own datastore (gantry connects to it)',
    ]) {
      expect(screen.getByText(text)).toBeTruthy();
    }
    expect(screen.getByText('gantry project allow shop …')).toBeTruthy();
  });
});
