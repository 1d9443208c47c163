import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api } from '../api/client';
import { useLive } from '../api/live';
import { projectsSource } from '../api/sources';
import type { Project } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { ConfirmDeleteDialog, TextArea, TextField } from '../components/Form';
import { Icon } from '../components/Icon';
import { Modal } from '../components/Modal';
import { age } from '../lib/vcluster';
import { projectNameError } from '../lib/validate';
import { Link, navigate } from '../router';

export const projectHref = (name: string, tab?: string) => `/projects/${encodeURIComponent(name)}` + (tab ? `?tab=${tab}` : '');

export interface ProjectFormErrors {
  name?: string;
  displayName?: string;
  description?: string;
}

export function validateProjectForm(name: string, displayName: string, description: string): ProjectFormErrors {
  const e: ProjectFormErrors = {};
  const n = projectNameError(name.trim());
  if (n) e.name = n;
  if (displayName.length > 253) e.displayName = 'At most 253 characters.';
  if (description.length > 4096) e.description = 'At most 4096 characters.';
  return e;
}

export function CreateProjectDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (p: Project) => void }) {
  const [name, setName] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [description, setDescription] = useState('');
  const [errors, setErrors] = useState<ProjectFormErrors>({});
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const nameRef = useRef<HTMLInputElement>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const v = validateProjectForm(name, displayName, description);
    setErrors(v);
    if (Object.keys(v).length) {
      if (v.name) nameRef.current?.focus();
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const p = await api.createProject({ name: name.trim(), displayName: displayName.trim(), description: description.trim() });
      onCreated(p);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Modal title="New project" onClose={onClose} busy={busy}>
      <form onSubmit={submit} noValidate>
        <ErrorBanner error={error} title="Could not create the project" />
        <TextField
          id="project-name"
          label="Name"
          ref={nameRef}
          value={name}
          onChange={(e) => setName(e.target.value)}
          error={errors.name}
          help="Lower-case letters, digits and '-'; its namespace is p-<name>."
          data-autofocus
        />
        <TextField
          id="project-display-name"
          label="Display name"
          value={displayName}
          onChange={(e) => setDisplayName(e.target.value)}
          error={errors.displayName}
        />
        <TextArea
          id="project-description"
          label="Description"
          rows={3}
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          error={errors.description}
        />
        <div className="modal-footer">
          <button type="button" className="btn" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create project'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function DeleteProjectDialog({ project, onClose, onDone }: { project: Project; onClose: () => void; onDone: () => void }) {
  return (
    <ConfirmDeleteDialog
      what="project"
      name={project.name}
      onClose={onClose}
      onConfirm={async () => {
        await api.deleteProject(project.name);
        onDone();
      }}
    >
      <p>
        Its namespace <code>{project.namespace}</code> goes with it: every virtual cluster and application of the project is
        deleted.
      </p>
    </ConfirmDeleteDialog>
  );
}

export function ProjectListView({
  projects,
  error,
  loading,
  onChanged,
}: {
  projects: Project[] | undefined;
  error?: unknown;
  loading?: boolean;
  onChanged?: () => void;
}) {
  const [dialog, setDialog] = useState<null | 'create' | { delete: Project }>(null);
  return (
    <section aria-labelledby="page-title">
      <div className="page-head">
        <h1 id="page-title" tabIndex={-1}>
          Projects
        </h1>
        <div className="actions">
          <button type="button" className="btn btn-primary" onClick={() => setDialog('create')}>
            <Icon name="plus" /> New project
          </button>
        </div>
      </div>
      <ErrorBanner error={error} title="Could not load projects" />
      {loading && !projects ? (
        <p className="muted" role="status">
          Loading projects…
        </p>
      ) : !projects?.length ? (
        <div className="empty">
          <h2>No projects yet</h2>
          <p>A project holds virtual clusters and applications, with its members and quotas.</p>
        </div>
      ) : (
        <div className="table-wrap">
          <table className="apps-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Description</th>
                <th scope="col">Members</th>
                <th scope="col">Virtual clusters</th>
                <th scope="col">Applications</th>
                <th scope="col">Age</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {projects.map((p) => (
                <tr key={p.name} data-project={p.name}>
                  <th scope="row">
                    <Link to={projectHref(p.name)} className="app-link">
                      {p.name}
                    </Link>
                    {p.displayName && <div className="subtle">{p.displayName}</div>}
                    {p.deleting && <span className="badge tone-warn">Deleting</span>}
                  </th>
                  <td>{p.description}</td>
                  <td>{p.members.length}</td>
                  <td>
                    {p.usage?.virtualClusters ?? 0}
                    {p.quotas.virtualClusters !== undefined && <span className="subtle"> / {p.quotas.virtualClusters}</span>}
                  </td>
                  <td>
                    {p.usage?.applications ?? 0}
                    {p.quotas.applications !== undefined && <span className="subtle"> / {p.quotas.applications}</span>}
                  </td>
                  <td title={p.created}>{age(p.created)}</td>
                  <td>
                    <button
                      type="button"
                      className="btn btn-small btn-danger-outline"
                      aria-label={`Delete project ${p.name}`}
                      disabled={p.deleting}
                      onClick={() => setDialog({ delete: p })}
                    >
                      <Icon name="trash" /> Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {dialog === 'create' && (
        <CreateProjectDialog onClose={() => setDialog(null)} onCreated={(p) => navigate(projectHref(p.name))} />
      )}
      {dialog && typeof dialog === 'object' && (
        <DeleteProjectDialog
          project={dialog.delete}
          onClose={() => setDialog(null)}
          onDone={() => {
            setDialog(null);
            onChanged?.();
          }}
        />
      )}
    </section>
  );
}

export function ProjectListPage() {
  useEffect(() => {
    document.title = 'Projects · gantry';
  }, []);
  const live = useLive(() => projectsSource(), []);
  return <ProjectListView projects={live.data} error={live.error} loading={live.loading} onChanged={live.reload} />;
}
