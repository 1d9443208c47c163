import { matchPath, safeNext } from './router';

describe('router', () => {
  it('matches and decodes parameters', () => {
    expect(matchPath('/applications/:namespace/:name', '/applications/p-shop/web%2Fx')).toEqual({ namespace: 'p-shop', name: 'web/x' });
    expect(matchPath('/applications/:namespace/:name', '/applications/p-shop')).toBeNull();
    expect(matchPath('/applications/:namespace/:name', '/projects/a/b')).toBeNull();
  });
  it('goes back after login only to this site', () => {
    expect(safeNext('/applications/a/b?tab=history')).toBe('/applications/a/b?tab=history');
    for (const bad of [null, '', '//evil.example.com', 'https://evil.example.com', '/\\evil', '/login?next=/x', 'javascript:alert(1)']) {
      expect(safeNext(bad)).toBe('/applications');
    }
  });
});
