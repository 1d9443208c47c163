import { render, screen } from '@testing-library/react';
import type { ResourceNode } from '../api/types';
import { ResourcePanel } from './ResourcePanel';

function panel(node: ResourceNode) {
  return render(
    <ResourcePanel appName="guestbook" appNamespace="p-a" node={node} diff={undefined} diffError={undefined} diffLoading={false} onClose={() => {}} />,
  );
}

// A tenant's Service or Pod is opened with kubectl port-forward, never through
// a link to the API server's proxy on gantry's origin.
test.each([
  [{ kind: 'Service', namespace: 'gb', name: 'web' }, 'kubectl port-forward --namespace gb service/web 8080:PORT'],
  [{ kind: 'Pod', namespace: 'gb', name: 'web-0', parentRefs: [{ kind: 'ReplicaSet', name: 'web-7d9' }] }, 'kubectl port-forward --namespace gb pod/web-0 8080:PORT'],
])('%o is opened with port-forward', (node, cmd) => {
  const { container } = panel(node as ResourceNode);
  expect(screen.getByText(cmd)).toBeTruthy();
  for (const a of container.querySelectorAll('a[href]')) {
    const href = a.getAttribute('href') ?? '';
    expect(href).not.toMatch(/\/kubernetes\/|\/proxy/);
  }
});

test('other kinds show no port-forward', () => {
  panel({ kind: 'ConfigMap', namespace: 'gb', name: 'web' });
  expect(screen.queryByText(/kubectl port-forward/)).toBeNull();
});
