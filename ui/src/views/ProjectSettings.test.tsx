import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, vi } from 'vitest';
import type { Project } from '../api/types';
import { mockFetch } from '../test/fetchmock';
import { ArgoSettings, GeneralSettings, generalChanges } from './ProjectSettings';

afterEach(() => vi.unstubAllGlobals());

const shop: Project = {
  name: 'shop', displayName: 'Shop', namespace: 'p-shop', members: [], quotas: { virtualClusters: 2 }, allowedDestinations: [],
  conditions: [], created: '2026-01-01T00:00:00Z', usage: { virtualClusters: 1, runningVirtualClusters: 1, applications: 0 },
};

describe('project settings', () => {
  it('general: only what changed is sent; a refusal is shown with its message', async () => {
    expect(generalChanges(shop, 'Shop', '', { virtualClusters: '2', runningVirtualClusters: '', applications: '' })).toEqual({});
    expect(generalChanges(shop, 'Shop 2', 'd', { virtualClusters: '3', runningVirtualClusters: '', applications: '1' })).toEqual({
      displayName: 'Shop 2',
      description: 'd',
      quotas: { virtualClusters: 3, applications: 1 },
    });
    const { bodies } = mockFetch(() => ({
      status: 403,
      body: { message: 'changing quotas of project shop needs the right to create it (projects create shop), which project roles do not give: ask an administrator' },
    }));
    const user = userEvent.setup();
    render(<GeneralSettings project={shop} onSaved={() => {}} />);
    await user.clear(screen.getByLabelText('Virtual clusters'));
    await user.type(screen.getByLabelText('Virtual clusters'), '-1');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(screen.getByText(/Enter a whole number/)).toBeTruthy();
    expect(bodies).toHaveLength(0);
    await user.clear(screen.getByLabelText('Virtual clusters'));
    await user.type(screen.getByLabelText('Virtual clusters'), '5');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect((await screen.findByRole('alert')).textContent).toContain('Not saved (403): changing quotas of project shop needs the right to create it');
    expect(bodies[0]).toEqual({ quotas: { virtualClusters: 5 } });
  });

  it('Argo CD: integration, cluster from the list, SSO with roles per project role, AppProject; the condition in words', async () => {
    const { calls, bodies } = mockFetch((u, init) => {
      if (u.pathname === '/api/v1/clusters') {
        return { body: { items: [{ name: 'in-cluster', server: 'https://kubernetes.default.svc' }, { name: 'p-ops/argo', server: 'https://10.0.0.1', project: 'ops', virtualCluster: 'argo' }] } };
      }
      if (init.method === 'PUT') return { body: { ...shop, argoCD: JSON.parse(String(init.body)).argoCD } };
      return undefined;
    });
    const saved: Project[] = [];
    const user = userEvent.setup();
    const { rerender } = render(<ArgoSettings project={shop} onSaved={(p) => saved.push(p)} />);
    expect(document.querySelector('[data-argo-condition]')?.textContent).toContain('Not enabled');
    await user.click(screen.getByRole('switch', { name: 'Argo CD Integration' }));
    await screen.findByRole('option', { name: 'p-ops/argo' });
    expect((screen.getByLabelText('Cluster where Argo CD runs') as HTMLSelectElement).value).toBe('');
    expect((screen.getByLabelText('Namespace') as HTMLInputElement).value).toBe('argocd');
    await user.click(screen.getByRole('switch', { name: 'Enable SSO Integration' }));
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(screen.getByText(/Enter a URL such as https:\/\/argocd.example.com/)).toBeTruthy();
    expect(calls.filter((c) => c.startsWith('PUT'))).toHaveLength(0);
    await user.type(screen.getByLabelText('Argo CD URL'), 'https://argocd.example.com');
    const admin = screen.getByRole('group', { name: 'project-admin' });
    await user.click(within(admin).getByRole('checkbox', { name: /Admin/ }));
    const viewer = screen.getByRole('group', { name: 'project-viewer' });
    await user.click(within(viewer).getByRole('checkbox', { name: /Read Only/ }));
    await user.type(within(viewer).getByLabelText('Custom Argo CD role for project-viewer'), 'bad role{Enter}');
    expect(within(viewer).getByText(/not an Argo CD role name/)).toBeTruthy();
    await user.clear(within(viewer).getByLabelText('Custom Argo CD role for project-viewer'));
    await user.type(within(viewer).getByLabelText('Custom Argo CD role for project-viewer'), 'role:auditor{Enter}');
    expect(within(viewer).getByRole('checkbox', { name: 'role:auditor' })).toHaveProperty('checked', true);
    await user.click(screen.getByRole('switch', { name: 'Create an Argo CD AppProject' }));
    await user.type(screen.getByLabelText('Source repositories'), 'https://github.com/org/*');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(saved).toHaveLength(1));
    expect(bodies[calls.indexOf('PUT /api/v1/projects/shop')]).toEqual({
      argoCD: {
        enabled: true,
        importVirtualClusters: true,
        sso: {
          enabled: true,
          host: 'https://argocd.example.com',
          assignedRoles: [
            { projectRole: 'project-admin', role: 'role:admin' },
            { projectRole: 'project-viewer', role: 'role:readonly' },
            { projectRole: 'project-viewer', role: 'role:auditor' },
          ],
        },
        project: { enabled: true, sourceRepos: ['https://github.com/org/*'] },
      },
    });
    rerender(
      <ArgoSettings
        project={{ ...saved[0], conditions: [{ type: 'ArgoIntegrationSynced', status: 'True', reason: 'Synced', message: '0 clusters, SSO, AppProject shop' }] }}
        onSaved={() => {}}
      />,
    );
    expect(document.querySelector('[data-argo-condition]')?.textContent).toContain('Synced: Argo CD has what this project needs');
    expect(document.querySelector('[data-argo-server-condition]')).toBeNull();
    // gantry could not restart argocd-server: the page says so, and how.
    const restart = 'Run: kubectl -n argocd rollout restart deployment argocd-server';
    rerender(
      <ArgoSettings
        project={{
          ...saved[0],
          conditions: [
            { type: 'ArgoIntegrationSynced', status: 'True', reason: 'Synced', message: '0 clusters' },
            { type: 'ArgoCDServerUpToDate', status: 'False', reason: 'RestartDisabled', message: restart },
          ],
        }}
        onSaved={() => {}}
      />,
    );
    const box = document.querySelector('[data-argo-server-condition]');
    expect(box?.textContent).toContain('argocd-server must be restarted');
    expect(box?.textContent).toContain(restart);
  });
});
