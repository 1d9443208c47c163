import { afterEach, vi } from 'vitest';
import { FakeEventSource } from '../test/eventsource';
import { mockFetch } from '../test/fetchmock';
import { preopenStream, STREAM_RETRY_MS, STREAM_THROTTLE_ITEMS, STREAM_THROTTLE_MS } from './live';
import { APPLICATIONS_STREAM, APPLICATIONS_STREAM_EVENTS, applicationsSource, virtualClustersSource } from './sources';
import type { Application, VirtualCluster } from './types';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

const app = (name: string, health = 'Healthy'): Application => ({
  metadata: { name, namespace: 'p-shop' },
  spec: { project: 'shop', destination: {} },
  status: { health: { status: health } },
});
const vc = (name: string, phase: string) => ({ project: 'shop', name, phase }) as VirtualCluster;

function collect<T>(live: { subscribe: (d: (v: T) => void, e: (e: unknown) => void) => () => void }) {
  const values: T[] = [];
  const errors: unknown[] = [];
  const stop = live.subscribe(
    (v) => values.push(v),
    (e) => errors.push(e),
  );
  return { values, errors, stop };
}

describe('streamed sources', () => {
  it("follow Argo CD's application stream: the initial ADDEDs once synced, then each change", () => {
    FakeEventSource.install();
    const c = collect(applicationsSource('shop'));
    const es = FakeEventSource.last();
    expect(es.url).toBe('/api/v1/stream/applications?projects=shop');
    es.open();
    es.send({ result: { type: 'ADDED', application: app('b') } });
    es.send({ result: { type: 'ADDED', application: app('a') } });
    expect(c.values).toHaveLength(0); // not complete yet
    es.send({}, 'synced');
    expect(c.values.at(-1)!.map((a) => a.metadata.name)).toEqual(['a', 'b']);
    es.send({ result: { type: 'MODIFIED', application: app('a', 'Degraded') } });
    expect(c.values.at(-1)![0].status?.health?.status).toBe('Degraded');
    es.send({ result: { type: 'DELETED', application: app('b') } });
    expect(c.values.at(-1)!.map((a) => a.metadata.name)).toEqual(['a']);
    // Reconnected: the old list stays until the new one is complete, then replaces it.
    es.open();
    es.send({ result: { type: 'ADDED', application: app('c') } });
    expect(c.values.at(-1)!.map((a) => a.metadata.name)).toEqual(['a']);
    es.send({}, 'synced');
    expect(c.values.at(-1)!.map((a) => a.metadata.name)).toEqual(['c']);
    c.stop();
    expect(es.readyState).toBe(2);
  });

  it('deliver the changes of a long list at most every STREAM_THROTTLE_MS, one after a quiet while at once', async () => {
    vi.useFakeTimers();
    FakeEventSource.install();
    const c = collect(applicationsSource());
    const es = FakeEventSource.last();
    es.open();
    const names = Array.from({ length: STREAM_THROTTLE_ITEMS }, (_, i) => 'app' + String(i).padStart(4, '0'));
    for (const n of names) es.send({ result: { type: 'ADDED', application: app(n) } });
    es.send({}, 'synced');
    expect(c.values).toHaveLength(1); // the initial list, at once
    await vi.advanceTimersByTimeAsync(STREAM_THROTTLE_MS);
    es.send({ result: { type: 'MODIFIED', application: app('app0001', 'Degraded') } });
    expect(c.values).toHaveLength(2); // a change after a quiet while, at once
    es.send({ result: { type: 'MODIFIED', application: app('app0002', 'Degraded') } });
    es.send({ result: { type: 'DELETED', application: app('app0003') } });
    expect(c.values).toHaveLength(2); // the next ones wait...
    await vi.advanceTimersByTimeAsync(STREAM_THROTTLE_MS);
    expect(c.values).toHaveLength(3); // ...and come together
    const last = c.values.at(-1)!;
    expect(last).toHaveLength(STREAM_THROTTLE_ITEMS - 1);
    expect(last.filter((a) => a.status?.health?.status === 'Degraded').map((a) => a.metadata.name)).toEqual(['app0001', 'app0002']);
    c.stop();
  });

  it('take a stream opened early, with what it said before the view asked', () => {
    FakeEventSource.install();
    preopenStream(APPLICATIONS_STREAM, APPLICATIONS_STREAM_EVENTS);
    const es = FakeEventSource.last();
    es.open();
    es.send({ result: { type: 'ADDED', application: app('b') } });
    es.send({ result: { type: 'ADDED', application: app('a') } });
    es.send({}, 'synced');
    const c = collect(applicationsSource());
    expect(FakeEventSource.all).toHaveLength(1); // no second request
    expect(c.values.at(-1)!.map((a) => a.metadata.name)).toEqual(['a', 'b']);
    es.send({ result: { type: 'DELETED', application: app('b') } });
    expect(c.values.at(-1)!.map((a) => a.metadata.name)).toEqual(['a']);
    expect(es.listeners.get('synced')).toHaveLength(1); // the early listener is gone, the view's remains
    c.stop();
    // Taken once: the next view opens its own.
    const d = collect(applicationsSource());
    expect(FakeEventSource.all).toHaveLength(2);
    d.stop();
  });

  it('not take an early stream that was refused (not signed in yet)', () => {
    FakeEventSource.install();
    preopenStream(APPLICATIONS_STREAM, APPLICATIONS_STREAM_EVENTS);
    FakeEventSource.last().refuse();
    const c = collect(applicationsSource());
    expect(FakeEventSource.all).toHaveLength(2);
    const es = FakeEventSource.last();
    es.open();
    es.send({ result: { type: 'ADDED', application: app('a') } });
    es.send({}, 'synced');
    expect(c.values.at(-1)!.map((a) => a.metadata.name)).toEqual(['a']);
    c.stop();
  });

  it('follow the virtual-cluster stream: LIST, then changes', () => {
    FakeEventSource.install();
    const c = collect(virtualClustersSource());
    const es = FakeEventSource.last();
    expect(es.url).toBe('/api/v1/virtualclusters?watch=true');
    es.open();
    es.send({ type: 'LIST', items: [] });
    expect(c.values).toEqual([[]]);
    es.send({ type: 'ADDED', object: vc('dev', 'Pending') });
    es.send({ type: 'MODIFIED', object: vc('dev', 'Running') });
    expect(c.values.at(-1)).toEqual([vc('dev', 'Running')]);
    c.stop();
  });

  it('fall back to polling when the stream is refused, and try it again later', async () => {
    vi.useFakeTimers();
    FakeEventSource.install();
    const { calls } = mockFetch((u) => (u.pathname === '/api/v1/applications' ? { body: { items: [app('polled')] } } : undefined));
    const c = collect(applicationsSource());
    FakeEventSource.last().refuse(); // e.g. 404: this gantry has no stream
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toEqual(['GET /api/v1/applications']);
    expect(c.values.at(-1)!.map((a) => a.metadata.name)).toEqual(['polled']);
    await vi.advanceTimersByTimeAsync(STREAM_RETRY_MS);
    const again = FakeEventSource.last();
    expect(FakeEventSource.all).toHaveLength(2);
    again.open();
    again.send({ result: { type: 'ADDED', application: app('streamed') } });
    again.send({}, 'synced');
    expect(c.values.at(-1)!.map((a) => a.metadata.name)).toEqual(['streamed']);
    // Polling has stopped.
    const n = calls.length;
    await vi.advanceTimersByTimeAsync(10000);
    expect(calls.length).toBe(n);
    c.stop();
  });

  it('an error message from the server (session expired) hands over to polling', async () => {
    FakeEventSource.install();
    const { calls } = mockFetch((u) => (u.pathname === '/api/v1/applications' ? { body: { items: [] } } : undefined));
    const c = collect(applicationsSource());
    const es = FakeEventSource.last();
    es.open();
    es.send({ error: { code: 16, http_code: 401, message: 'Unauthorized: token expired' } });
    expect(es.readyState).toBe(2);
    await vi.waitFor(() => expect(calls).toContain('GET /api/v1/applications'));
    c.stop();
  });
});
