import { afterEach, vi } from 'vitest';
import { mockFetch } from '../test/fetchmock';
import { api, ApiError, setUnauthorizedHandler } from './client';

afterEach(() => vi.unstubAllGlobals());

describe('API client', () => {
  it("shows the server's message", async () => {
    mockFetch(() => ({ status: 403, body: { error: 'x', message: 'permission denied: applications, sync, default/web', code: 7 } }));
    const e = await api.getApplication('web', 'ns').catch((e) => e);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(403);
    expect(e.message).toBe('permission denied: applications, sync, default/web');
  });
  it('refreshes the session once on 401 and retries', async () => {
    let n = 0;
    const { calls } = mockFetch((u) => {
      if (u.pathname === '/api/v1/session/refresh') return { body: {} };
      return n++ === 0 ? { status: 401, body: { message: 'expired' } } : { body: { items: [] } };
    });
    const h = vi.fn();
    setUnauthorizedHandler(h);
    expect(await api.listApplications()).toEqual([]);
    expect(calls).toEqual(['GET /api/v1/applications', 'POST /api/v1/session/refresh', 'GET /api/v1/applications']);
    expect(h).not.toHaveBeenCalled();
  });
  it('sends the user to login when the refresh fails too', async () => {
    mockFetch((u) => (u.pathname === '/api/v1/session/refresh' ? { status: 401, body: { message: 'refresh refused' } } : { status: 401, body: { message: 'no session' } }));
    const h = vi.fn();
    setUnauthorizedHandler(h);
    await expect(api.resourceTree('a', 'ns')).rejects.toThrow('no session');
    expect(h).toHaveBeenCalledOnce();
  });
  it("uses Argo CD's paths and bodies", async () => {
    const { calls, bodies } = mockFetch(() => ({ body: {} }));
    await api.sync('web', 'p-shop', { prune: true, dryRun: true });
    await api.deleteApplication('web', 'p-shop', true, 'background');
    await api.rollback('web', 'p-shop', { id: 3, prune: false, dryRun: false });
    await api.refreshApplication('web', 'p-shop');
    expect(calls).toEqual([
      'POST /api/v1/applications/web/sync?appNamespace=p-shop',
      'DELETE /api/v1/applications/web?cascade=true&propagationPolicy=background&appNamespace=p-shop',
      'POST /api/v1/applications/web/rollback?appNamespace=p-shop',
      'GET /api/v1/applications/web?refresh=normal&appNamespace=p-shop',
    ]);
    expect(bodies[0]).toEqual({ prune: true, dryRun: true });
    expect(bodies[2]).toEqual({ id: 3, prune: false, dryRun: false });
  });
});
