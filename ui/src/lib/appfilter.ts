// Filtering, counting and paging the Applications list (pure: tested alone).
import type { Application } from '../api/types';
import { healthCode, syncCode } from './status';

export interface AppFilter {
  projects: string[];
  sync: string[];
  health: string[];
  /** Words that must all appear in the name, project, repository, path or destination. */
  search: string;
}

export const emptyFilter: AppFilter = { projects: [], sync: [], health: [], search: '' };

export function projectOf(a: Application): string {
  return a.spec?.project || 'default';
}

export function sourceOf(a: Application) {
  return a.spec?.source ?? a.spec?.sources?.[0];
}

function haystack(a: Application): string {
  const s = sourceOf(a);
  const d = a.spec?.destination ?? {};
  return [a.metadata.name, a.metadata.namespace, projectOf(a), s?.repoURL, s?.path, s?.chart, d.server, d.name, d.namespace]
    .filter(Boolean)
    .join(' ')
    .toLowerCase();
}

export function matches(a: Application, f: AppFilter): boolean {
  return matcher(f)(a);
}

/** The filter as a test of one app: the search split once, not per app (10,000 apps, four tests each). */
function matcher(f: AppFilter): (a: Application) => boolean {
  const words = f.search.toLowerCase().split(/\s+/).filter(Boolean);
  return (a) => {
    if (f.projects.length && !f.projects.includes(projectOf(a))) return false;
    if (f.sync.length && !f.sync.includes(syncCode(a.status?.sync?.status))) return false;
    if (f.health.length && !f.health.includes(healthCode(a.status?.health?.status))) return false;
    if (words.length) {
      const h = haystack(a);
      if (!words.every((w) => h.includes(w))) return false;
    }
    return true;
  };
}

// Kubernetes names are lower-case ASCII: code-point order is their order, and
// much cheaper than localeCompare, which sorting 10,000 apps calls ~130,000 times.
const byCodePoint = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);

/** Sorted by name, then namespace. */
export function filterApps(apps: Application[], f: AppFilter): Application[] {
  return apps
    .filter(matcher(f))
    .sort((x, y) => byCodePoint(x.metadata.name, y.metadata.name) || byCodePoint(x.metadata.namespace ?? '', y.metadata.namespace ?? ''));
}

/** How many apps have each value of a facet, among those the other facets leave. */
export function facetCounts(apps: Application[], f: AppFilter) {
  const projects = new Map<string, number>();
  const sync = new Map<string, number>();
  const health = new Map<string, number>();
  const inc = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const [anyProject, anySync, anyHealth] = [matcher({ ...f, projects: [] }), matcher({ ...f, sync: [] }), matcher({ ...f, health: [] })];
  for (const a of apps) {
    if (anyProject(a)) inc(projects, projectOf(a));
    if (anySync(a)) inc(sync, syncCode(a.status?.sync?.status));
    if (anyHealth(a)) inc(health, healthCode(a.status?.health?.status));
  }
  // Every project stays listed, with 0 when filtered away, so a chosen one can be unchosen.
  for (const a of apps) if (!projects.has(projectOf(a))) projects.set(projectOf(a), 0);
  return { projects, sync, health };
}

export interface Page<T> {
  items: T[];
  /** 1-based page shown (clamped to what exists). */
  page: number;
  pages: number;
  total: number;
  /** 1-based index of the first and last item shown; 0 when empty. */
  from: number;
  to: number;
}

export const PAGE_SIZES = [25, 50, 100, 250];

export function paginate<T>(items: T[], page: number, size: number): Page<T> {
  const total = items.length;
  const pages = Math.max(1, Math.ceil(total / size));
  const p = Math.min(Math.max(1, Math.floor(page) || 1), pages);
  const start = (p - 1) * size;
  const slice = items.slice(start, start + size);
  return { items: slice, page: p, pages, total, from: total ? start + 1 : 0, to: start + slice.length };
}

/** The filter as URL query parameters (comma lists), and back. */
export function filterFromQuery(q: URLSearchParams): AppFilter {
  const list = (k: string) => (q.get(k) ?? '').split(',').filter(Boolean);
  return { projects: list('proj'), sync: list('sync'), health: list('health'), search: q.get('q') ?? '' };
}

export function filterToQuery(f: AppFilter): Record<string, string | null> {
  return {
    proj: f.projects.join(',') || null,
    sync: f.sync.join(',') || null,
    health: f.health.join(',') || null,
    q: f.search || null,
  };
}
