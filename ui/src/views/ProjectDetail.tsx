import { useEffect, useState } from 'react';
import { ApiError } from '../api/client';
import { useLive } from '../api/live';
import { applicationsSource, projectSource } from '../api/sources';
import type { Project } from '../api/types';
import { HealthBadge, SyncBadge } from '../components/Badges';
import { ErrorBanner } from '../components/ErrorBanner';
import { Icon } from '../components/Icon';
import { LinkTabs } from '../components/Tabs';
import { Link, navigate, useLocation, withQuery } from '../router';
import { appHref, destinationText } from './AppList';
import { MembersView } from './Members';
import { DeleteProjectDialog } from './Projects';
import { ProjectRules } from './ProjectRules';
import { ArgoSettings, GeneralSettings } from './ProjectSettings';
import { VCList } from './VirtualClusters';

const TABS = [
  { id: 'virtualclusters', label: 'Virtual Clusters' },
  { id: 'applications', label: 'Applications' },
  { id: 'members', label: 'Members' },
  { id: 'settings', label: 'Settings' },
];

function ProjectApps({ project }: { project: string }) {
  const live = useLive(() => applicationsSource(project), [project]);
  const apps = live.data;
  return (
    <div>
      <div className="section-head">
        <ErrorBanner error={live.error} title="Could not load applications" />
        <Link to={`/applications/new?project=${encodeURIComponent(project)}`} className="btn btn-primary">
          <Icon name="plus" /> New application
        </Link>
      </div>
      {live.loading && !apps ? (
        <p className="muted" role="status">
          Loading applications…
        </p>
      ) : !apps?.length ? (
        <div className="empty">
          <h2>No applications in this project</h2>
        </div>
      ) : (
        <div className="table-wrap">
          <table className="apps-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Sync</th>
                <th scope="col">Health</th>
                <th scope="col">Destination</th>
              </tr>
            </thead>
            <tbody>
              {apps.map((a) => (
                <tr key={a.metadata.namespace + '/' + a.metadata.name} data-app={a.metadata.name}>
                  <th scope="row">
                    <Link to={appHref(a)} className="app-link">
                      {a.metadata.name}
                    </Link>
                  </th>
                  <td>
                    <SyncBadge status={a.status?.sync?.status} />
                  </td>
                  <td>
                    <HealthBadge status={a.status?.health?.status} message={a.status?.health?.message} />
                  </td>
                  <td>{destinationText(a)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function ProjectPage({ name }: { name: string }) {
  const loc = useLocation();
  const tab = TABS.some((t) => t.id === loc.search.get('tab')) ? loc.search.get('tab')! : 'virtualclusters';
  const wanted = loc.search.get('section');
  const section = wanted === 'argocd' || wanted === 'boundaries' ? wanted : 'general';
  const live = useLive(() => projectSource(name), [name]);
  // A save answers the new project at once; the poll follows.
  const [fresh, setFresh] = useState<Project>();
  const [deleting, setDeleting] = useState(false);
  useEffect(() => {
    document.title = `${name} · Projects · gantry`;
  }, [name]);
  useEffect(() => setFresh(undefined), [live.data]);
  const p = fresh ?? live.data;
  const notFound = live.error instanceof ApiError && live.error.status === 404;
  const crumbs = (
    <nav className="breadcrumbs" aria-label="Breadcrumbs">
      <Link to="/projects">Projects</Link>
    </nav>
  );
  if (!p || notFound) {
    return (
      <section className="detail">
        {crumbs}
        <h1 id="page-title" tabIndex={-1}>
          {name}
        </h1>
        <ErrorBanner error={live.error} title={notFound ? 'Project not found' : 'Could not load the project'} />
        {!live.error && (
          <p className="muted" role="status">
            Loading…
          </p>
        )}
      </section>
    );
  }
  const to = (id: string) => withQuery(loc, { tab: id === 'virtualclusters' ? null : id, section: null });
  return (
    <section className="detail">
      {crumbs}
      <div className="page-head">
        <h1 id="page-title" tabIndex={-1}>
          {p.displayName || p.name}
        </h1>
        {p.displayName && <span className="muted">{p.name}</span>}
        {p.deleting && <span className="badge tone-warn">Deleting</span>}
        <div className="actions">
          <button type="button" className="btn btn-danger-outline" onClick={() => setDeleting(true)} disabled={p.deleting}>
            <Icon name="trash" /> Delete
          </button>
        </div>
      </div>
      {p.description && <p className="project-description">{p.description}</p>}
      <ErrorBanner error={live.error} title="Could not update the project" />
      <LinkTabs label="Project views" current={tab} tabs={TABS.map((t) => ({ ...t, to: to(t.id) }))} />
      {tab === 'virtualclusters' && <VCList project={p.name} />}
      {tab === 'applications' && <ProjectApps project={p.name} />}
      {tab === 'members' && <MembersView project={p} onChanged={setFresh} />}
      {tab === 'settings' && (
        <>
          <LinkTabs
            label="Settings"
            current={section}
            tabs={[
              { id: 'general', label: 'General', to: withQuery(loc, { section: null }) },
              { id: 'boundaries', label: 'Boundaries', to: withQuery(loc, { section: 'boundaries' }) },
              { id: 'argocd', label: 'Argo CD', to: withQuery(loc, { section: 'argocd' }) },
            ]}
          />
          {section === 'general' && <GeneralSettings key={p.name} project={p} onSaved={setFresh} />}
          {section === 'boundaries' && <ProjectRules project={p} />}
          {section === 'argocd' && <ArgoSettings key={p.name} project={p} onSaved={setFresh} />}
        </>
      )}
      {deleting && <DeleteProjectDialog project={p} onClose={() => setDeleting(false)} onDone={() => navigate('/projects')} />}
    </section>
  );
}
