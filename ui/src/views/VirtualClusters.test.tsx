import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, vi } from 'vitest';
import type { VirtualCluster } from '../api/types';
import { FakeEventSource } from '../test/eventsource';
import { mockFetch } from '../test/fetchmock';
import { CreateVCDialog, VCListView } from './VirtualClusters';

afterEach(() => vi.unstubAllGlobals());

const view = (phase: string, conditions: VirtualCluster['conditions'] = []): VirtualCluster => ({
  project: 'shop', name: 'dev', phase, conditions, labels: { env: 'dev' }, sleeping: false, deleting: false, argoCD: true,
  created: new Date(Date.now() - 120000).toISOString(), endpoint: '',
});

describe('virtual clusters', () => {
  it('list phase and age', () => {
    render(<VCListView items={[view('Running')]} />);
    const row = screen.getByRole('row', { name: /dev/ });
    expect(row.querySelector('[data-status="Running"]')?.className).toContain('tone-ok');
    expect(within(row).getByText('2m')).toBeTruthy();
    expect(within(row).getByText('shop')).toBeTruthy();
    expect(within(row).getByText('env=dev')).toBeTruthy();
  });

  it('create: checks first, sends argoCD true, then shows each step until Ready', async () => {
    FakeEventSource.install();
    const { calls, bodies } = mockFetch((u, init) =>
      u.pathname === '/api/v1/virtualclusters/shop' && init.method === 'POST' ? { status: 201, body: view('') } : undefined,
    );
    const user = userEvent.setup();
    render(<CreateVCDialog project="shop" onClose={() => {}} />);
    await user.type(screen.getByLabelText('Name'), 'Dev');
    await user.type(screen.getByLabelText('Labels'), 'env');
    await user.type(screen.getByLabelText('Sleep after'), 'soon');
    await user.click(screen.getByRole('button', { name: 'Create' }));
    expect(screen.getByText(/invalid virtual cluster name "Dev"/)).toBeTruthy();
    expect(screen.getByText(/"env" is not key=value/)).toBeTruthy();
    expect(screen.getByText(/"soon" is not a duration/)).toBeTruthy();
    expect(calls).toHaveLength(0);
    await user.clear(screen.getByLabelText('Name'));
    await user.type(screen.getByLabelText('Name'), 'dev');
    await user.clear(screen.getByLabelText('Labels'));
    await user.type(screen.getByLabelText('Labels'), 'env=dev');
    await user.clear(screen.getByLabelText('Sleep after'));
    await user.type(screen.getByLabelText('Sleep after'), '15m');
    await user.click(screen.getByRole('radio', { name: 'Yes' }));
    await user.click(screen.getByRole('button', { name: 'Create' }));
    await screen.findByRole('list', { name: 'Creation progress' });
    expect(bodies[0]).toEqual({ name: 'dev', labels: { env: 'dev' }, sleepAfter: '15m', argoCD: true });

    const es = FakeEventSource.last();
    expect(es.url).toBe('/api/v1/virtualclusters/shop/dev?watch=true');
    const state = (k: string) => document.querySelector(`[data-step="${k}"]`)?.getAttribute('data-state');
    es.open();
    es.send({ type: 'LIST', items: [view('Pending')] });
    await waitFor(() => expect(state('pending')).toBe('active'));
    es.send({ type: 'MODIFIED', object: view('Starting', [{ type: 'Deployed', status: 'False', message: 'deploying' }]) });
    await waitFor(() => expect(state('deployed')).toBe('active'));
    expect(state('pending')).toBe('done');
    es.send({
      type: 'MODIFIED',
      object: view('Running', [
        { type: 'Deployed', status: 'True' },
        { type: 'Ready', status: 'True' },
        { type: 'Online', status: 'True' },
      ]),
    });
    await screen.findByText('dev is ready.');
    expect(['accepted', 'pending', 'deployed', 'ready', 'online'].map(state)).toEqual(['done', 'done', 'done', 'done', 'done']);
  });

  it("shows the server's message when the create is refused", async () => {
    mockFetch(() => ({ status: 409, body: { message: 'project shop allows 1 virtual cluster: delete one first' } }));
    const user = userEvent.setup();
    render(<CreateVCDialog project="shop" onClose={() => {}} />);
    await user.type(screen.getByLabelText('Name'), 'two');
    await user.click(screen.getByRole('button', { name: 'Create' }));
    expect((await screen.findByRole('alert')).textContent).toContain('(409): project shop allows 1 virtual cluster');
  });
});
