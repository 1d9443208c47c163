import { vi } from 'vitest';

export type Route = (url: URL, init: RequestInit) => { status?: number; body?: unknown } | undefined;

/** Replaces fetch with routes; returns the calls made ("METHOD /path?query"). */
export function mockFetch(route: Route) {
  const calls: string[] = [];
  const bodies: unknown[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init: RequestInit = {}) => {
      const url = new URL(input, 'http://localhost');
      calls.push(`${init.method ?? 'GET'} ${url.pathname}${url.search}`);
      bodies.push(init.body ? JSON.parse(String(init.body)) : undefined);
      const r = route(url, init) ?? { status: 404, body: { message: 'not mocked: ' + url.pathname } };
      return new Response(r.body === undefined ? '' : JSON.stringify(r.body), {
        status: r.status ?? 200,
        headers: { 'Content-Type': 'application/json' },
      });
    }),
  );
  return { calls, bodies };
}
