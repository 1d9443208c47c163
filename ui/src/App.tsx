import { useEffect, useRef, useState } from 'react';
import { api, type Settings } from './api/client';
import { AuthProvider, loginURL, useAuth } from './auth';
import { ErrorBanner } from './components/ErrorBanner';
import { Icon } from './components/Icon';
import { Link, matchPath, navigate, useLocation } from './router';
import { AppCreatePage } from './views/AppCreate';
import { AppDetailPage } from './views/AppDetail';
import { AppListPage } from './views/AppList';
import { ClusterListPage } from './views/Clusters';
import { LoginPage } from './views/Login';
import { ProjectPage } from './views/ProjectDetail';
import { ProjectListPage } from './views/Projects';
import { VCDetailPage, VCListPage } from './views/VirtualClusters';

const nav = [
  { to: '/applications', label: 'Applications' },
  { to: '/projects', label: 'Projects' },
  { to: '/virtualclusters', label: 'Virtual clusters' },
  { to: '/clusters', label: 'Clusters' },
];

function NotFound() {
  return (
    <section>
      <h1 id="page-title" tabIndex={-1}>
        Page not found
      </h1>
      <p>
        <Link to="/applications">Go to Applications</Link>
      </p>
    </section>
  );
}

function Routes() {
  const { pathname } = useLocation();
  let m: Record<string, string> | null;
  if (pathname === '/' || pathname === '/applications') return <AppListPage />;
  if (pathname === '/applications/new') return <AppCreatePage />;
  if ((m = matchPath('/applications/:namespace/:name', pathname))) {
    return <AppDetailPage key={m.namespace + '/' + m.name} namespace={m.namespace} name={m.name} />;
  }
  if (pathname === '/projects') return <ProjectListPage />;
  if ((m = matchPath('/projects/:name', pathname))) return <ProjectPage key={m.name} name={m.name} />;
  if (pathname === '/virtualclusters') return <VCListPage />;
  if ((m = matchPath('/virtualclusters/:project/:name', pathname))) {
    return <VCDetailPage key={m.project + '/' + m.name} project={m.project} name={m.name} />;
  }
  if (pathname === '/clusters') return <ClusterListPage />;
  return <NotFound />;
}

/**
 * SimulationNotice says, on every page, which of the embedded host's nodes are
 * simulated (pods are scheduled and reported Running, but no container runs)
 * and which are real (containers run there).
 */
export function SimulationNotice({ settings }: { settings: Settings | null }) {
  const n = settings?.simulatedNodes ?? 0;
  const real = settings?.realNodes ?? [];
  if (n <= 0 && real.length === 0) return null;
  return (
    <footer className="sim-notice" role="note">
      Embedded host:{' '}
      {real.length > 0 && (
        <>
          {real.join(', ')} {real.length === 1 ? 'is a real node' : 'are real nodes'}: containers run there, for pods with
          nodeSelector and toleration gantry.dev/real=true.{' '}
        </>
      )}
      {n > 0 && (
        <>
          {n} {n === 1 ? 'node' : 'nodes'} simulated by KWOK: pods are scheduled and reported Running there, but no
          container runs.
        </>
      )}
    </footer>
  );
}

function Shell() {
  const { user, error, logout } = useAuth();
  const [settings, setSettings] = useState<Settings | null>(null);
  useEffect(() => {
    const ac = new AbortController();
    api.settings(ac.signal).then(setSettings, () => setSettings(null));
    return () => ac.abort();
  }, []);
  const loc = useLocation();
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);

  useEffect(() => {
    if (loc.pathname === '/') navigate('/applications', { replace: true });
  }, [loc.pathname]);

  useEffect(() => {
    if (user && !user.loggedIn && !loc.pathname.startsWith('/login')) navigate(loginURL(), { replace: true });
  }, [user, loc.pathname]);

  // After a client-side navigation, focus the new page's heading (screen readers
  // and keyboard users start at the top of the new view, as on a page load).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const h = document.getElementById('page-title');
    if (h && !mainRef.current?.contains(document.activeElement)) h.focus({ preventScroll: true });
  }, [loc.pathname]);

  if (loc.pathname.startsWith('/login')) return <LoginPage />;
  if (!user) {
    return (
      <main className="boot" id="main">
        {error ? <ErrorBanner error={error} title="Cannot reach gantry" /> : <p className="muted">Loading…</p>}
      </main>
    );
  }
  if (!user.loggedIn) return null;

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/applications" className="brand" aria-label="gantry home">
          <span className="brand-mark" aria-hidden="true">
            g
          </span>
          gantry
        </Link>
        <nav className="mainnav" aria-label="Main">
          {nav.map((n) => {
            const current = loc.pathname === n.to || loc.pathname.startsWith(n.to + '/');
            return (
              <Link key={n.to} to={n.to} aria-current={current ? 'page' : undefined} className={current ? 'active' : ''}>
                {n.label}
              </Link>
            );
          })}
        </nav>
        <div className="user">
          <span className="user-name" title={user.groups?.join(', ')}>
            {user.username}
          </span>
          <button type="button" className="btn btn-ghost" onClick={() => void logout()}>
            <Icon name="logout" /> Log out
          </button>
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        <Routes />
      </main>
      <SimulationNotice settings={settings} />
    </div>
  );
}

export function App() {
  return (
    <AuthProvider>
      <Shell />
    </AuthProvider>
  );
}
