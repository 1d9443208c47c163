import { useEffect, useMemo, useRef, useState } from 'react';
import { applicationsSource } from '../api/sources';
import { useLive } from '../api/live';
import type { Application } from '../api/types';
import { HealthBadge, OperationBadge, SyncBadge } from '../components/Badges';
import { ErrorBanner } from '../components/ErrorBanner';
import { Icon } from '../components/Icon';
import {
  PAGE_SIZES,
  facetCounts,
  filterApps,
  filterFromQuery,
  filterToQuery,
  paginate,
  projectOf,
  sourceOf,
  type AppFilter,
} from '../lib/appfilter';
import { HEALTH_CODES, SYNC_CODES, healthView, syncView } from '../lib/status';
import { Link, navigate, useLocation, withQuery } from '../router';

export function appHref(a: Application): string {
  return `/applications/${encodeURIComponent(a.metadata.namespace ?? '')}/${encodeURIComponent(a.metadata.name)}`;
}

export function destinationText(a: Application): string {
  const d = a.spec?.destination ?? {};
  const cluster = d.name || (d.server === 'https://kubernetes.default.svc' ? 'in-cluster' : d.server) || '';
  return [cluster, d.namespace].filter(Boolean).join(' / ');
}

function Facet({
  legend,
  values,
  chosen,
  counts,
  label,
  onChange,
}: {
  legend: string;
  values: string[];
  chosen: string[];
  counts: Map<string, number>;
  label?: (v: string) => React.ReactNode;
  onChange: (next: string[]) => void;
}) {
  return (
    <fieldset className="facet">
      <legend>{legend}</legend>
      {values.map((v) => {
        const on = chosen.includes(v);
        return (
          <label key={v} className="facet-option">
            <input
              type="checkbox"
              checked={on}
              onChange={() => onChange(on ? chosen.filter((c) => c !== v) : [...chosen, v])}
            />
            <span className="facet-label">{label ? label(v) : v}</span>
            <span className="facet-count">{counts.get(v) ?? 0}</span>
          </label>
        );
      })}
    </fieldset>
  );
}

function StatusDot({ view }: { view: ReturnType<typeof healthView> }) {
  return (
    <span className={`tone-${view.tone} facet-status`}>
      <Icon name={view.icon} /> {view.label}
    </span>
  );
}

export interface AppListViewProps {
  apps: Application[] | undefined;
  error?: unknown;
  loading?: boolean;
}

/** The list itself, without data fetching (so it can be tested with any data). */
export function AppListView({ apps, error, loading }: AppListViewProps) {
  const loc = useLocation();
  const filter = filterFromQuery(loc.search);
  const size = PAGE_SIZES.includes(Number(loc.search.get('size'))) ? Number(loc.search.get('size')) : 50;
  const pageParam = Number(loc.search.get('page') ?? '1') || 1;
  const [search, setSearch] = useState(filter.search);
  const searchRef = useRef<HTMLInputElement>(null);

  // Typing updates the URL (replace, not a history entry per key) after a short pause.
  useEffect(() => {
    if (search === filter.search) return;
    const t = setTimeout(() => setFilter({ ...filter, search }, true), 150);
    return () => clearTimeout(t);
  }, [search]);
  // Back/forward restores the box.
  useEffect(() => setSearch(filter.search), [filter.search]);

  // "/" focuses the search box, as in Argo CD.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.key === '/' && !['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)) {
        e.preventDefault();
        searchRef.current?.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  function setFilter(f: AppFilter, replace = false) {
    navigate(withQuery(loc, { ...filterToQuery(f), page: null }), { replace });
  }

  const all = apps ?? [];
  const filtered = useMemo(() => filterApps(all, filter), [all, loc.href]);
  const counts = useMemo(() => facetCounts(all, filter), [all, loc.href]);
  const page = paginate(filtered, pageParam, size);
  const projects = [...counts.projects.keys()].sort();
  const active = filter.projects.length + filter.sync.length + filter.health.length + (filter.search ? 1 : 0);

  return (
    <div className="list-layout">
      <aside className="filters" aria-label="Filters">
        <div className="filters-head">
          <h2>Filters</h2>
          {active > 0 && (
            <button type="button" className="btn btn-link" onClick={() => { setSearch(''); setFilter({ projects: [], sync: [], health: [], search: '' }); }}>
              Clear all
            </button>
          )}
        </div>
        <Facet
          legend="Sync status"
          values={[...SYNC_CODES]}
          chosen={filter.sync}
          counts={counts.sync}
          label={(v) => <StatusDot view={syncView(v)} />}
          onChange={(sync) => setFilter({ ...filter, sync })}
        />
        <Facet
          legend="Health status"
          values={[...HEALTH_CODES]}
          chosen={filter.health}
          counts={counts.health}
          label={(v) => <StatusDot view={healthView(v)} />}
          onChange={(health) => setFilter({ ...filter, health })}
        />
        {projects.length > 0 && (
          <Facet
            legend="Projects"
            values={projects}
            chosen={filter.projects}
            counts={counts.projects}
            onChange={(p) => setFilter({ ...filter, projects: p })}
          />
        )}
      </aside>
      <section className="list-main" aria-labelledby="page-title">
        <div className="page-head">
          <h1 id="page-title" tabIndex={-1}>
            Applications
          </h1>
          <div className="search">
            <Icon name="search" />
            <label htmlFor="app-search" className="sr-only">
              Search applications
            </label>
            <input
              id="app-search"
              ref={searchRef}
              type="search"
              placeholder="Search by name, project, repository… ( / )"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
          </div>
          <Link to="/applications/new" className="btn btn-primary">
            <Icon name="plus" /> New application
          </Link>
        </div>
        <ErrorBanner error={error} title="Could not load applications" />
        {loading && !apps ? (
          <p className="muted" role="status">
            Loading applications…
          </p>
        ) : all.length === 0 ? (
          <div className="empty">
            <h2>No applications yet</h2>
            <p>
              <Link to="/applications/new">Create one here</Link>, with <code>gantry app create</code> or{' '}
              <code>POST /api/v1/applications</code>.
            </p>
          </div>
        ) : (
          <>
            <p className="muted list-summary" role="status" aria-live="polite">
              {page.total === 0
                ? `No application matches the filters (${all.length} in all).`
                : `Showing ${page.from}–${page.to} of ${page.total}` + (page.total !== all.length ? ` (${all.length} in all)` : '')}
            </p>
            {page.total > 0 && (
              <div className="table-wrap">
                <table className="apps-table">
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Project</th>
                      <th scope="col">Sync</th>
                      <th scope="col">Health</th>
                      <th scope="col">Source</th>
                      <th scope="col">Destination</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((a) => {
                      const s = sourceOf(a);
                      return (
                        <tr key={(a.metadata.namespace ?? '') + '/' + a.metadata.name} data-app={a.metadata.name}>
                          <th scope="row">
                            <Link to={appHref(a)} className="app-link">
                              {a.metadata.name}
                            </Link>
                            {a.metadata.namespace && <div className="subtle">{a.metadata.namespace}</div>}
                          </th>
                          <td>{projectOf(a)}</td>
                          <td>
                            <SyncBadge status={a.status?.sync?.status} />
                            {a.status?.operationState?.phase === 'Running' && (
                              <OperationBadge phase="Running" message={a.status.operationState.message} />
                            )}
                          </td>
                          <td>
                            <HealthBadge status={a.status?.health?.status} message={a.status?.health?.message} />
                          </td>
                          <td className="cell-source">
                            <span className="truncate" title={s?.repoURL}>
                              {s?.repoURL}
                            </span>
                            <div className="subtle">
                              {s?.chart ? `chart ${s.chart}` : s?.path || '.'} @ {s?.targetRevision || 'HEAD'}
                            </div>
                          </td>
                          <td>{destinationText(a)}</td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
            {page.total > 0 && (
              <nav className="pager" aria-label="Pages">
                <Link to={withQuery(loc, { page: null })} className="btn" aria-disabled={page.page === 1} tabIndex={page.page === 1 ? -1 : undefined}>
                  « First
                </Link>
                <Link
                  to={withQuery(loc, { page: page.page > 2 ? String(page.page - 1) : null })}
                  className="btn"
                  aria-disabled={page.page === 1}
                  tabIndex={page.page === 1 ? -1 : undefined}
                  rel="prev"
                >
                  ‹ Previous
                </Link>
                <span className="pager-pos" aria-current="page">
                  Page {page.page} of {page.pages}
                </span>
                <Link
                  to={withQuery(loc, { page: String(Math.min(page.pages, page.page + 1)) })}
                  className="btn"
                  aria-disabled={page.page === page.pages}
                  tabIndex={page.page === page.pages ? -1 : undefined}
                  rel="next"
                >
                  Next ›
                </Link>
                <Link
                  to={withQuery(loc, { page: String(page.pages) })}
                  className="btn"
                  aria-disabled={page.page === page.pages}
                  tabIndex={page.page === page.pages ? -1 : undefined}
                >
                  Last »
                </Link>
                <label className="pager-size">
                  Per page{' '}
                  <select
                    value={size}
                    onChange={(e) => navigate(withQuery(loc, { size: e.target.value === '50' ? null : e.target.value, page: null }))}
                  >
                    {PAGE_SIZES.map((n) => (
                      <option key={n} value={n}>
                        {n}
                      </option>
                    ))}
                  </select>
                </label>
              </nav>
            )}
          </>
        )}
      </section>
    </div>
  );
}

export function AppListPage() {
  useEffect(() => {
    document.title = 'Applications · gantry';
  }, []);
  const live = useLive(() => applicationsSource(), []);
  return <AppListView apps={live.data} error={live.error} loading={live.loading} />;
}
