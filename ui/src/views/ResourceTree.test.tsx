import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
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

describe('resource tree', () => {
  it('draws every node with its health and sync, and an edge per parent', () => {
    const { container } = render(<Harness />);
    const tree = screen.getByRole('region', { name: 'Resource tree' });
    expect(within(tree).getByRole('button', { name: 'Deployment web, Healthy, OutOfSync' })).toBeTruthy();
    expect(within(tree).getByRole('button', { name: 'Pod web-7d9-b, Progressing' }).className).toContain('tone-border-info');
    expect(within(tree).getAllByRole('button')).toHaveLength(7);
    expect(container.querySelectorAll('.tree-edges path')).toHaveLength(7);
  });

  it('opens a node: summary, live manifest as YAML, diff; Escape closes', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.click(screen.getByRole('button', { name: /^Deployment web/ }));
    const panel = screen.getByRole('complementary');
    expect(within(panel).getByRole('heading', { name: 'web' })).toBeTruthy();
    await user.click(within(panel).getByRole('tab', { name: 'Live manifest' }));
    expect(within(panel).getByLabelText('Live manifest (YAML)').textContent).toContain('kind: Deployment\nmetadata:\n  name: web');
    await user.keyboard('{ArrowRight}');
    expect(within(panel).getByRole('tab', { name: /Diff/ }).getAttribute('aria-selected')).toBe('true');
    const diff = within(panel).getByLabelText('Differences');
    expect(diff.querySelector('.diff-add')?.textContent).toContain('replicas: 2');
    expect(diff.querySelector('.diff-del')?.textContent).toContain('replicas: 1');
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('complementary')).toBeNull();
  });

  it('explains why a child has no manifest', async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.click(screen.getByRole('button', { name: /^Pod web-7d9-a/ }));
    await user.click(screen.getByRole('tab', { name: 'Live manifest' }));
    expect(screen.getByText(/not managed by the application \(it belongs to ReplicaSet web-7d9\)/)).toBeTruthy();
  });
});
