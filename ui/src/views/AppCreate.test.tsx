import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, vi } from 'vitest';
import { mockFetch } from '../test/fetchmock';
import { AppCreatePage } from './AppCreate';

afterEach(() => vi.unstubAllGlobals());

describe('new application form', () => {
  it('lists the host and the virtual clusters, checks, and posts an Argo CD Application', async () => {
    const { calls, bodies } = mockFetch((u, init) => {
      if (u.pathname === '/api/v1/projects') return { body: { items: [{ name: 'default' }, { name: 'shop' }] } };
      if (u.pathname === '/api/v1/clusters') {
        return { body: { items: [{ name: 'in-cluster', server: 'https://kubernetes.default.svc' }, { name: 'p-shop/dev', server: 'https://127.0.0.1:4000', project: 'shop', virtualCluster: 'dev' }] } };
      }
      if (u.pathname === '/api/v1/applications' && init.method === 'POST') return { body: JSON.parse(String(init.body)) };
      return undefined;
    });
    window.history.replaceState(null, '', '/applications/new?project=shop');
    const user = userEvent.setup();
    render(<AppCreatePage />);
    await screen.findByRole('option', { name: 'dev (virtual cluster in shop)' });
    expect((screen.getByLabelText('Project') as HTMLSelectElement).value).toBe('shop');
    await user.click(screen.getByRole('button', { name: 'Create' }));
    expect(screen.getByText('Enter the repository URL.')).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByLabelText('Application name'));
    expect(calls.filter((c) => c.startsWith('POST'))).toHaveLength(0);
    await user.type(screen.getByLabelText('Application name'), 'web');
    await user.type(screen.getByLabelText('Repository URL'), 'file:///tmp/repo');
    await user.clear(screen.getByLabelText('Revision'));
    await user.type(screen.getByLabelText('Revision'), 'main');
    await user.type(screen.getByLabelText('Path'), 'guestbook');
    await user.selectOptions(screen.getByLabelText('Cluster'), 'p-shop/dev');
    await user.type(screen.getByLabelText('Namespace'), 'guestbook');
    await user.click(screen.getByRole('radio', { name: /Automated/ }));
    await user.click(screen.getByRole('switch', { name: 'Self heal' }));
    await user.click(screen.getByRole('button', { name: 'Create' }));
    await waitFor(() => expect(window.location.pathname).toBe('/applications/p-shop/web'));
    expect(bodies[calls.indexOf('POST /api/v1/applications')]).toEqual({
      metadata: { name: 'web', namespace: 'p-shop' },
      spec: {
        project: 'shop',
        source: { repoURL: 'file:///tmp/repo', targetRevision: 'main', path: 'guestbook' },
        destination: { name: 'p-shop/dev', namespace: 'guestbook' },
        syncPolicy: { automated: { prune: false, selfHeal: true }, syncOptions: ['CreateNamespace=true'] },
      },
    });
  });
});
