import { makeApps } from '../test/fixtures';
import { emptyFilter, facetCounts, filterApps, filterFromQuery, filterToQuery, paginate } from './appfilter';

const apps = makeApps(1000);

describe('application filters', () => {
  it('keeps everything without a filter, sorted by name', () => {
    const out = filterApps([...apps].reverse(), emptyFilter);
    expect(out).toHaveLength(1000);
    expect(out[0].metadata.name).toBe('app-0000');
    expect(out[999].metadata.name).toBe('app-0999');
  });
  it('filters by project, sync and health together', () => {
    const out = filterApps(apps, { ...emptyFilter, projects: ['shop'], sync: ['OutOfSync'] });
    expect(out.length).toBeGreaterThan(0);
    for (const a of out) {
      expect(a.spec.project).toBe('shop');
      expect(a.status?.sync?.status).toBe('OutOfSync');
    }
    // i % 4 == 1 and i % 3 == 1: i ≡ 1 (mod 12)
    expect(out).toHaveLength(Math.ceil((1000 - 1) / 12));
    const h = filterApps(apps, { ...emptyFilter, health: ['Degraded', 'Missing'] });
    expect(h.every((a) => ['Degraded', 'Missing'].includes(a.status!.health!.status!))).toBe(true);
  });
  it('searches every word in name, project, repository and destination', () => {
    expect(filterApps(apps, { ...emptyFilter, search: 'app-0042' }).map((a) => a.metadata.name)).toEqual(['app-0042']);
    expect(filterApps(apps, { ...emptyFilter, search: 'TEAM3 billing' }).every((a) => a.spec.project === 'billing')).toBe(true);
    expect(filterApps(apps, { ...emptyFilter, search: 'ns-6' })).toHaveLength(Math.floor(1000 / 7) + (1000 % 7 > 6 ? 1 : 0));
    expect(filterApps(apps, { ...emptyFilter, search: 'nothing-like-this' })).toHaveLength(0);
  });
  it('counts each facet among what the other facets leave', () => {
    const c = facetCounts(apps, { ...emptyFilter, projects: ['infra'] });
    expect(c.projects.get('default')).toBe(250); // the project facet ignores its own choice
    let total = 0;
    c.sync.forEach((v) => (total += v));
    expect(total).toBe(250);
    const none = facetCounts(apps, { ...emptyFilter, search: 'zzz' });
    expect(none.projects.get('shop')).toBe(0);
  });
  it('pages', () => {
    const p = paginate(apps, 3, 50);
    expect(p).toMatchObject({ page: 3, pages: 20, total: 1000, from: 101, to: 150 });
    expect(p.items).toHaveLength(50);
    expect(paginate(apps, 99, 50)).toMatchObject({ page: 20, from: 951, to: 1000 });
    expect(paginate(apps, 0, 50).page).toBe(1);
    expect(paginate(apps, NaN, 50).page).toBe(1);
    expect(paginate([], 1, 50)).toMatchObject({ page: 1, pages: 1, from: 0, to: 0, total: 0 });
    expect(paginate(apps, 4, 333)).toMatchObject({ page: 4, pages: 4, from: 1000, to: 1000 });
  });
  it('round-trips through the URL', () => {
    const f = { projects: ['a', 'b'], sync: ['Synced'], health: [], search: 'x y' };
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filterToQuery(f))) if (v) q.set(k, v);
    expect(filterFromQuery(q)).toEqual(f);
    expect(q.has('health')).toBe(false);
  });
});
