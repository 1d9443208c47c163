import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, vi } from 'vitest';
import type { Cluster } from '../api/types';
import { mockFetch } from '../test/fetchmock';
import { ClusterListPage, ClusterListView } from './Clusters';

afterEach(() => vi.unstubAllGlobals());

const clusters: Cluster[] = [
  { name: 'in-cluster', server: 'https://kubernetes.default.svc', info: { connectionState: { status: 'Successful' }, serverVersion: '1.37' } },
  {
    name: 'p-shop/dev', server: 'https://127.0.0.1:7443', project: 'shop', virtualCluster: 'dev',
    info: { connectionState: { status: 'Failed', message: 'virtual cluster dev is asleep' } },
  },
  { name: 'prod', server: 'https://prod.example.com:6443', project: 'shop', info: { connectionState: { status: 'Successful' }, serverVersion: '1.36' } },
];

describe('clusters', () => {
  it('lists server, project and connection state; only added clusters can be removed', () => {
    render(<ClusterListView clusters={clusters} />);
    const prod = screen.getByRole('row', { name: /prod/ });
    expect(within(prod).getByText('https://prod.example.com:6443')).toBeTruthy();
    expect(within(prod).getByText('shop')).toBeTruthy();
    expect(within(prod).getByText('1.36')).toBeTruthy();
    expect(prod.querySelector('[data-status="Successful"]')?.className).toContain('tone-ok');
    expect(within(prod).getByRole('button', { name: 'Remove cluster prod' })).toBeTruthy();

    const dev = screen.getByRole('row', { name: /p-shop\/dev/ });
    expect(dev.querySelector('[data-status="Failed"]')?.className).toContain('tone-bad');
    expect(within(dev).getByText('virtual cluster dev is asleep')).toBeTruthy();
    expect(within(dev).getByRole('link', { name: 'p-shop/dev' }).getAttribute('href')).toBe('/virtualclusters/shop/dev');
    expect(within(dev).queryByRole('button')).toBeNull();

    const host = screen.getByRole('row', { name: /in-cluster/ });
    expect(within(host).getByText('the host')).toBeTruthy();
    expect(within(host).queryByRole('button')).toBeNull();
  });

  it('loads the list, removes after the name is typed, and shows a refusal', async () => {
    let refuse = true;
    const { calls } = mockFetch((u, init) => {
      if (u.pathname === '/api/v1/clusters') return { body: { items: clusters } };
      if (u.pathname === '/api/v1/clusters/prod' && init.method === 'DELETE') {
        return refuse
          ? { status: 403, body: { message: 'permission denied: alice cannot delete clusters shop/https://prod.example.com:6443' } }
          : { body: clusters[2] };
      }
      return undefined;
    });
    const user = userEvent.setup();
    render(<ClusterListPage />);
    await screen.findByRole('row', { name: /prod/ });
    await user.click(screen.getByRole('button', { name: 'Remove cluster prod' }));
    const dialog = screen.getByRole('dialog');
    await user.type(within(dialog).getByRole('textbox'), 'prod');
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));
    expect((await within(dialog).findByRole('alert')).textContent).toContain('alice cannot delete clusters');
    refuse = false;
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(calls.filter((c) => c === 'GET /api/v1/clusters')).toHaveLength(2);
  });
});
