import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { afterEach, beforeEach, vi } from 'vitest';
import { mockFetch } from '../test/fetchmock';
import type { Application, ResourceDiff, ResourceNode } from '../api/types';
import { refKey } from '../lib/treelayout';
import { guestbookTree } from '../test/fixtures';
import { ResourcePanel } from './ResourcePanel';
import { ResourceTree } from './ResourceTree';

const app: Application = {
  metadata: { name: 'guestbook', namespace: 'ns' },
  spec: { destination: {} },
  status: {
    health: { status: 'Progressing' },
    resources: [{ group: 'apps', kind: 'Deployment', namespace: 'gb', name: 'web', status: 'OutOfSync' }],
  },
};

const diffs: ResourceDiff[] = [
  {
    group: 'apps',
    kind: 'Deployment',
    namespace: 'gb',
    name: 'web',
    modified: true,
    liveState: JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 1 } }),
    diff: '--- live\n+++ desired\n@@ -1 +1 @@\n-  replicas: 1\n+  replicas: 2\n',
  },
];

function Harness() {
  const [sel, setSel] = useState<ResourceNode | null>(null);
  return (
    <>
      <ResourceTree app={app} nodes={guestbookTree()} selected={sel ? refKey(sel) : undefined} onSelect={setSel} />
      {sel && (
        <ResourcePanel
          appName="guestbook"
          appNamespace="ns"
          node={sel}
          diff={diffs.find((d) => d.name === sel.name && d.kind === sel.kind)}
          diffError={undefined}
          diffLoading={false}
          onClose={() => setSel(null)}
        />
      )}
    </>
  );
}

const podLive = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-7d9-a', namespace: 'gb', managedFields: [{ manager: 'kubelet' }] },
  spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
};
const deployLive = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 1 } };
let calls: string[] = [];
let bodies: unknown[] = [];
let paused = false;
beforeEach(() => {
  const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
  paused = false;
  ({ calls, bodies } = mockFetch((u, init) => {
    const q = u.searchParams;
    if (u.pathname === '/api/v1/applications/guestbook/resource/actions' && q.get('kind') === 'Deployment') {
      if (init.method === 'POST') {
        const action = JSON.parse(String(init.body)).action;
        if (action === 'pause') paused = true;
        return { body: {} };
      }
      return { body: { actions: [{ name: 'pause', disabled: paused }, { name: 'restart', disabled: paused }, { name: 'resume', disabled: !paused }] } };
    }
    if (u.pathname === '/api/v1/applications/guestbook/resource') {
      const live = q.get('resourceName') === 'web-7d9-a' ? podLive : q.get('kind') === 'Deployment' ? deployLive : null;
      return live ? { body: { manifest: JSON.stringify(live) } } : { status: 404, body: { message: 'not found as part of application guestbook' } };
    }
    if (u.pathname === '/api/v1/applications/guestbook/events' && q.get('resourceUID') === 'p1') {
      return {
        body: {
          items: [
            { metadata: { uid: 'e1' }, type: 'Normal', reason: 'Scheduled', message: 'Successfully assigned gb/web-7d9-a', lastTimestamp: ago(600), count: 1 },
            { metadata: { uid: 'e2' }, type: 'Warning', reason: 'BackOff', message: 'Back-off pulling image', lastTimestamp: ago(120), count: 4 },
          ],
        },
      };
    }
    if (u.pathname === '/api/v1/applications/guestbook/events') return { body: { items: [] } };
    return undefined;
  }));
});
afterEach(() => vi.unstubAllGlobals());

describe('resource tree', () => {
  it('draws every node with its health and sync, and an edge per parent', () => {
    const { container } = render(<Harness />);
    const tree = screen.getByRole('region', { name: 'Resource tree' });
    expect(within(tree).getByRole('button', { name: 'Deployment web, Healthy, OutOfSync' })).toBeTruthy();
    expect(within(tree).getByRole('button', { name: 'Pod web-7d9-b, Progressing' }).className).toContain('tone-border-info');
    expect(within(tree).getAllByRole('button')).toHaveLength(7);
    expect(container.querySelectorAll('.tree-edges path')).toHaveLength(7);
  });

  it('opens a managed node: summary, live manifest as YAML, events, diff; Escape closes', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.click(screen.getByRole('button', { name: /^Deployment web/ }));
    const panel = screen.getByRole('complementary');
    expect(within(panel).getByRole('heading', { name: 'web' })).toBeTruthy();
    await user.click(within(panel).getByRole('tab', { name: 'Live manifest' }));
    expect((await within(panel).findByLabelText('Live manifest (YAML)')).textContent).toContain('kind: Deployment\nmetadata:\n  name: web');
    await user.keyboard('{ArrowRight}');
    expect(within(panel).getByRole('tab', { name: 'Events' }).getAttribute('aria-selected')).toBe('true');
    await user.keyboard('{ArrowRight}');
    expect(within(panel).getByRole('tab', { name: /Diff/ }).getAttribute('aria-selected')).toBe('true');
    const diff = within(panel).getByLabelText('Differences');
    expect(diff.querySelector('.diff-add')?.textContent).toContain('replicas: 2');
    expect(diff.querySelector('.diff-del')?.textContent).toContain('replicas: 1');
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('complementary')).toBeNull();
  });

  it("runs a Deployment's action after a confirmation, then lists its actions again", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.click(screen.getByRole('button', { name: /^Deployment web/ }));
    const actions = await within(screen.getByRole('complementary')).findByRole('region', { name: 'Actions' });
    const resume = await within(actions).findByRole('button', { name: 'resume' });
    expect((resume as HTMLButtonElement).disabled).toBe(true);
    await user.click(within(actions).getByRole('button', { name: 'pause' }));
    const confirm = within(actions).getByRole('group', { name: 'Confirm the action' });
    expect(confirm.textContent).toContain('Run pause on Deployment web?');
    expect(calls.filter((c) => c.startsWith('POST'))).toEqual([]);
    await user.click(within(confirm).getByRole('button', { name: 'Run pause' }));
    expect((await within(actions).findByRole('status')).textContent).toBe('pause: done');
    expect(calls).toContain('POST /api/v1/applications/guestbook/resource/actions?namespace=gb&resourceName=web&kind=Deployment&group=apps&version=v1&appNamespace=ns');
    expect(bodies[calls.findIndex((c) => c.startsWith('POST'))]).toEqual({ action: 'pause' });
    expect(((await within(actions).findByRole('button', { name: 'resume' })) as HTMLButtonElement).disabled).toBe(false);
  });

  it('offers no actions for a ConfigMap', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.click(screen.getByRole('button', { name: /^ConfigMap settings/ }));
    expect(within(screen.getByRole('complementary')).queryByRole('region', { name: 'Actions' })).toBeNull();
    expect(calls.some((c) => c.includes('resource/actions'))).toBe(false);
  });

  it("shows a child's live manifest (read from /resource) and its events, and no diff tab", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.click(screen.getByRole('button', { name: /^Pod web-7d9-a/ }));
    const panel = screen.getByRole('complementary');
    expect(within(panel).queryByRole('tab', { name: /Diff/ })).toBeNull();
    expect(within(panel).getByText('ReplicaSet web-7d9')).toBeTruthy();
    await user.click(within(panel).getByRole('tab', { name: 'Live manifest' }));
    const yaml = await within(panel).findByLabelText('Live manifest (YAML)');
    expect(yaml.textContent).toContain('kind: Pod\nmetadata:\n  name: web-7d9-a');
    expect(yaml.textContent).not.toContain('managedFields');
    expect(calls).toContain('GET /api/v1/applications/guestbook/resource?namespace=gb&resourceName=web-7d9-a&kind=Pod&version=v1&appNamespace=ns');

    await user.click(within(panel).getByRole('tab', { name: 'Events' }));
    const table = await within(panel).findByRole('table', { name: 'Events' });
    const rows = within(table).getAllByRole('row').slice(1).map((r) => within(r).getAllByRole('cell').map((c) => c.textContent));
    expect(rows).toEqual([
      ['Warning', 'BackOff', 'Back-off pulling image', '2m', '4'],
      ['Normal', 'Scheduled', 'Successfully assigned gb/web-7d9-a', '10m', '1'],
    ]);
    expect(calls).toContain('GET /api/v1/applications/guestbook/events?resourceNamespace=gb&resourceName=web-7d9-a&resourceUID=p1&appNamespace=ns');
  });

  it('says so when a node has no events, and shows why a manifest could not be read', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.click(screen.getByRole('button', { name: /^ConfigMap settings/ }));
    await user.click(screen.getByRole('tab', { name: 'Events' }));
    expect(await screen.findByText(/No events/)).toBeTruthy();
    await user.click(screen.getByRole('tab', { name: 'Live manifest' }));
    expect(await screen.findByText(/not found as part of application guestbook/)).toBeTruthy();
  });
});
