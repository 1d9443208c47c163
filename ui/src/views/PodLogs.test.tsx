import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { vi } from 'vitest';
import type { ResourceNode } from '../api/types';
import { ResourcePanel } from './ResourcePanel';
import { podContainers } from './PodLogs';

const pod: ResourceNode = {
  kind: 'Pod',
  version: 'v1',
  namespace: 'gb',
  name: 'web-0',
  uid: 'u1',
  parentRefs: [{ kind: 'ReplicaSet', group: 'apps', name: 'web-7d9' }],
};

const manifest = JSON.stringify({
  kind: 'Pod',
  spec: { containers: [{ name: 'app' }, { name: 'sidecar' }], initContainers: [{ name: 'init' }] },
});

/**
 * fetch answering the pod's manifest and, for /logs, the lines logs(query)
 * gives as Argo CD's stream; a follow stream stays open until aborted.
 */
function serve(logs: (q: URLSearchParams) => string[]) {
  const calls: string[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init: RequestInit = {}) => {
      const url = new URL(input, 'http://localhost');
      calls.push(url.pathname + url.search);
      if (url.pathname.endsWith('/resource')) {
        return new Response(JSON.stringify({ manifest }), { headers: { 'Content-Type': 'application/json' } });
      }
      if (url.pathname.endsWith('/logs')) {
        const q = url.searchParams;
        const lines = logs(q).map((content) => JSON.stringify({ result: { content, podName: 'web-0' } }) + '\n');
        const follow = q.get('follow') === 'true';
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            for (const l of lines) c.enqueue(new TextEncoder().encode(l));
            if (!follow) {
              c.enqueue(new TextEncoder().encode(JSON.stringify({ result: { last: true } }) + '\n'));
              c.close();
            }
            init.signal?.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError')));
          },
        });
        return new Response(body, { headers: { 'Content-Type': 'application/json' } });
      }
      return new Response(JSON.stringify({ message: 'not mocked' }), { status: 404 });
    }),
  );
  return calls;
}

function open() {
  render(<ResourcePanel appName="guestbook" appNamespace="p-a" node={pod} diff={undefined} diffError={undefined} diffLoading={false} onClose={() => {}} />);
  fireEvent.click(screen.getByRole('tab', { name: 'Logs' }));
}

test('the containers of a pod, init containers last', () => {
  expect(podContainers(manifest)).toEqual(['app', 'sidecar', 'init']);
  expect(podContainers('not json')).toEqual([]);
});

test("a pod's logs follow its first container, then the one picked, then its previous instance", async () => {
  const calls = serve((q) => [`${q.get('container')} line 1${q.get('previous') ? ' (previous)' : ''}`, `${q.get('container')} line 2`]);
  open();
  await waitFor(() => expect(screen.getByLabelText('Log lines').textContent).toContain('app line 1'));
  expect(screen.getByLabelText('Log lines').textContent).toContain('app line 2');
  expect(screen.getByRole('status').textContent).toMatch(/Following/);
  const first = calls.find((c) => c.includes('/logs'))!;
  expect(first).toMatch(/^\/api\/v1\/applications\/guestbook\/logs\?/);
  const q = new URL(first, 'http://x').searchParams;
  expect(Object.fromEntries(q)).toMatchObject({ podName: 'web-0', namespace: 'gb', container: 'app', follow: 'true', appNamespace: 'p-a' });

  const picker = screen.getByLabelText('Container') as HTMLSelectElement;
  expect([...picker.options].map((o) => o.value)).toEqual(['app', 'sidecar', 'init']);
  fireEvent.change(picker, { target: { value: 'sidecar' } });
  await waitFor(() => expect(screen.getByLabelText('Log lines').textContent).toContain('sidecar line 1'));
  expect(screen.getByLabelText('Log lines').textContent).not.toContain('app line');

  fireEvent.click(screen.getByLabelText(/Follow/));
  fireEvent.click(screen.getByLabelText(/Previous instance/));
  await waitFor(() => expect(screen.getByLabelText('Log lines').textContent).toContain('sidecar line 1 (previous)'));
  const last = new URL(calls.filter((c) => c.includes('/logs')).at(-1)!, 'http://x').searchParams;
  expect(last.get('previous')).toBe('true');
  expect(last.get('follow')).toBeNull();
  expect(screen.queryByText(/Following/)).toBeNull();
});

test('a refusal is shown, not an empty log', async () => {
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string) => {
      if (input.includes('/resource')) return new Response(JSON.stringify({ manifest }));
      return new Response(JSON.stringify({ error: 'forbidden', message: 'permission denied: victor cannot get logs a/guestbook', code: 7 }), {
        status: 403,
      });
    }),
  );
  open();
  await waitFor(() => expect(screen.getByText(/victor cannot get logs/)).toBeTruthy());
  expect(screen.queryByLabelText('Log lines')).toBeNull();
});

test('only pods have logs', () => {
  render(
    <ResourcePanel
      appName="guestbook"
      appNamespace="p-a"
      node={{ kind: 'Service', namespace: 'gb', name: 'web' }}
      diff={undefined}
      diffError={undefined}
      diffLoading={false}
      onClose={() => {}}
    />,
  );
  expect(screen.queryByRole('tab', { name: 'Logs' })).toBeNull();
});
