import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import { useLive } from '../api/live';
import { virtualClusterSource, virtualClustersSource } from '../api/sources';
import type { Project, VirtualCluster } from '../api/types';
import { ConditionBadge, PhaseBadge } from '../components/Badges';
import { ErrorBanner } from '../components/ErrorBanner';
import { ConfirmDeleteDialog, SelectField, TextArea, TextField } from '../components/Form';
import { Icon } from '../components/Icon';
import { Modal } from '../components/Modal';
import { durationError, nameError, parseLabels } from '../lib/validate';
import {
  age,
  argoCDText,
  argoCDValue,
  connectCommand,
  creationSteps,
  isReady,
  type ArgoChoice,
  type StepState,
} from '../lib/vcluster';
import { Link, navigate } from '../router';

export const vcHref = (v: { project: string; name: string }) =>
  `/virtualclusters/${encodeURIComponent(v.project)}/${encodeURIComponent(v.name)}`;

export interface VCForm {
  project: string;
  name: string;
  labels: string;
  argoCD: ArgoChoice;
  sleepAfter: string;
}

export type VCFormErrors = Partial<Record<keyof VCForm, string>>;

export function validateVCForm(f: VCForm): VCFormErrors {
  const e: VCFormErrors = {};
  if (!f.project) e.project = 'Choose a project.';
  const n = nameError('virtual cluster', f.name.trim());
  if (n) e.name = n;
  const l = parseLabels(f.labels);
  if (l.error) e.labels = l.error;
  const d = durationError(f.sleepAfter);
  if (d) e.sleepAfter = d;
  return e;
}

const stepIcon: Record<StepState, 'check' | 'spinner' | 'x' | 'question'> = {
  done: 'check',
  active: 'spinner',
  waiting: 'question',
  failed: 'x',
};

/** The steps of a new cluster until it is ready, live from the stream. */
export function CreationProgress({ vc }: { vc: VirtualCluster | undefined }) {
  const steps = creationSteps(vc);
  return (
    <ol className="steps" aria-label="Creation progress">
      {steps.map((s) => (
        <li key={s.key} className={'step step-' + s.state} data-step={s.key} data-state={s.state}>
          <Icon name={stepIcon[s.state]} className={'tone-' + (s.state === 'done' ? 'ok' : s.state === 'failed' ? 'bad' : s.state === 'active' ? 'info' : 'muted')} />
          <span className="step-label">{s.label}</span>
          <span className="sr-only">: {s.state}</span>
          {s.detail && <span className="subtle step-detail">{s.detail}</span>}
        </li>
      ))}
    </ol>
  );
}

function Progress({ project, name, onClose }: { project: string; name: string; onClose: () => void }) {
  const live = useLive(() => virtualClusterSource(project, name), [project, name]);
  const vc = live.data;
  const ready = isReady(vc);
  return (
    <>
      <p role="status" aria-live="polite" className={ready ? 'tone-ok' : vc?.phase === 'Failed' ? 'tone-bad' : 'muted'}>
        {ready
          ? `${name} is ready.`
          : vc?.phase === 'Failed'
            ? `${name} failed: ${vc.message ?? ''}`
            : `Creating ${name}… phase ${vc?.phase || 'Pending'}`}
      </p>
      <CreationProgress vc={vc} />
      {!(live.error instanceof ApiError && live.error.status === 404) && <ErrorBanner error={live.error} title="Could not follow the cluster" />}
      <div className="modal-footer">
        <button type="button" className="btn" onClick={onClose}>
          Close
        </button>
        <button type="button" className="btn btn-primary" onClick={() => navigate(vcHref({ project, name }))} data-autofocus>
          Open {name}
        </button>
      </div>
    </>
  );
}

export function CreateVCDialog({ project, onClose }: { project?: string; onClose: () => void }) {
  const [form, setForm] = useState<VCForm>({ project: project ?? '', name: '', labels: '', argoCD: 'project', sleepAfter: '' });
  const [errors, setErrors] = useState<VCFormErrors>({});
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ project: string; name: string }>();
  const [projects, setProjects] = useState<Project[]>();
  const nameRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (project) return;
    const ctrl = new AbortController();
    api
      .listProjects(ctrl.signal)
      .then((ps) => {
        setProjects(ps);
        setForm((f) => (f.project || !ps.length ? f : { ...f, project: ps.find((p) => p.name === 'default')?.name ?? ps[0].name }));
      })
      .catch((e) => !ctrl.signal.aborted && setError(e));
    return () => ctrl.abort();
  }, [project]);
  const set = (k: keyof VCForm) => (v: string) => setForm((f) => ({ ...f, [k]: v }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const v = validateVCForm(form);
    setErrors(v);
    if (Object.keys(v).length) {
      document.getElementById('vc-' + Object.keys(v)[0])?.focus();
      return;
    }
    setBusy(true);
    setError(undefined);
    const argoCD = argoCDValue(form.argoCD);
    const labels = parseLabels(form.labels).labels;
    try {
      await api.createVirtualCluster(form.project, {
        name: form.name.trim(),
        ...(Object.keys(labels).length ? { labels } : {}),
        ...(form.sleepAfter.trim() ? { sleepAfter: form.sleepAfter.trim() } : {}),
        ...(argoCD !== undefined ? { argoCD } : {}),
      });
      setCreated({ project: form.project, name: form.name.trim() });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (created) {
    return (
      <Modal title={`Virtual cluster ${created.name}`} onClose={onClose}>
        <Progress project={created.project} name={created.name} onClose={onClose} />
      </Modal>
    );
  }
  return (
    <Modal title="New virtual cluster" onClose={onClose} busy={busy}>
      <form onSubmit={submit} noValidate>
        <ErrorBanner error={error} title="Could not create the virtual cluster" />
        {!project && (
          <SelectField id="vc-project" label="Project" value={form.project} onChange={(e) => set('project')(e.target.value)} error={errors.project}>
            {!projects && <option value="">Loading…</option>}
            {projects?.map((p) => (
              <option key={p.name} value={p.name}>
                {p.displayName ? `${p.name} (${p.displayName})` : p.name}
              </option>
            ))}
          </SelectField>
        )}
        <TextField
          id="vc-name"
          label="Name"
          ref={nameRef}
          value={form.name}
          onChange={(e) => set('name')(e.target.value)}
          error={errors.name}
          help="Lower-case letters, digits and '-'."
          data-autofocus
        />
        <TextArea
          id="vc-labels"
          label="Labels"
          rows={2}
          placeholder="env=dev, team=shop"
          value={form.labels}
          onChange={(e) => set('labels')(e.target.value)}
          error={errors.labels}
          help="key=value, separated by commas or lines; copied onto the cluster's registration (for GitOps selectors)."
        />
        <fieldset className="radio-group">
          <legend>Add to Argo CD</legend>
          {(
            [
              ['project', "Project's default"],
              ['yes', 'Yes'],
              ['no', 'No'],
            ] as [ArgoChoice, string][]
          ).map(([v, label]) => (
            <label key={v} className="check">
              <input type="radio" name="vc-argocd" value={v} checked={form.argoCD === v} onChange={() => set('argoCD')(v)} /> {label}
            </label>
          ))}
        </fieldset>
        <TextField
          id="vc-sleepAfter"
          label="Sleep after"
          placeholder="never"
          value={form.sleepAfter}
          onChange={(e) => set('sleepAfter')(e.target.value)}
          error={errors.sleepAfter}
          help="Stop it after this long without use, e.g. 15m or 2h; the next request wakes it. Empty: never."
        />
        <div className="modal-footer">
          <button type="button" className="btn" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function VCListView({
  items,
  error,
  loading,
  project,
}: {
  items: VirtualCluster[] | undefined;
  error?: unknown;
  loading?: boolean;
  /** Set on a project's page: no project column, new clusters go there. */
  project?: string;
}) {
  const [creating, setCreating] = useState(false);
  // Ages tick on without a change in the data.
  const [, setNow] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setNow((n) => n + 1), 10000);
    return () => clearInterval(t);
  }, []);
  return (
    <div className="vc-list">
      <div className="section-head">
        <ErrorBanner error={error} title="Could not load virtual clusters" />
        <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
          <Icon name="plus" /> New virtual cluster
        </button>
      </div>
      {loading && !items ? (
        <p className="muted" role="status">
          Loading virtual clusters…
        </p>
      ) : !items?.length ? (
        <div className="empty">
          <h2>No virtual clusters yet</h2>
          <p>Each is a real Kubernetes control plane whose pods run on the host.</p>
        </div>
      ) : (
        <div className="table-wrap">
          <table className="apps-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                {!project && <th scope="col">Project</th>}
                <th scope="col">Phase</th>
                <th scope="col">Version</th>
                <th scope="col">Argo CD</th>
                <th scope="col">Sleep after</th>
                <th scope="col">Age</th>
              </tr>
            </thead>
            <tbody>
              {items.map((v) => (
                <tr key={v.project + '/' + v.name} data-vc={v.name}>
                  <th scope="row">
                    <Link to={vcHref(v)} className="app-link">
                      {v.name}
                    </Link>
                    {Object.keys(v.labels).length > 0 && (
                      <div className="subtle">
                        {Object.entries(v.labels)
                          .map(([k, val]) => `${k}=${val}`)
                          .join(', ')}
                      </div>
                    )}
                  </th>
                  {!project && <td>{v.project}</td>}
                  <td>
                    <PhaseBadge phase={v.phase} message={v.message} />
                  </td>
                  <td>{v.kubernetesVersion}</td>
                  <td>{argoCDText(v.argoCD)}</td>
                  <td>{v.sleepAfter || 'never'}</td>
                  <td title={v.created}>{age(v.created)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating && <CreateVCDialog project={project} onClose={() => setCreating(false)} />}
    </div>
  );
}

/** A project's or every virtual cluster, live from the stream. */
export function VCList({ project }: { project?: string }) {
  const live = useLive(() => virtualClustersSource(project), [project]);
  return <VCListView items={live.data} error={live.error} loading={live.loading} project={project} />;
}

export function VCListPage() {
  useEffect(() => {
    document.title = 'Virtual clusters · gantry';
  }, []);
  return (
    <section aria-labelledby="page-title">
      <div className="page-head">
        <h1 id="page-title" tabIndex={-1}>
          Virtual clusters
        </h1>
      </div>
      <VCList />
    </section>
  );
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

export function ConnectDialog({ vc, onClose }: { vc: VirtualCluster; onClose: () => void }) {
  const cmd = connectCommand(vc.project, vc.name);
  const [copied, setCopied] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const cmdRef = useRef<HTMLInputElement>(null);
  const download = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const text = await api.kubeconfig(vc.project, vc.name);
      const url = URL.createObjectURL(new Blob([text], { type: 'application/yaml' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `gantry_${vc.project}_${vc.name}.kubeconfig`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const copy = async () => {
    if (await copyText(cmd)) setCopied('Copied to the clipboard.');
    else {
      cmdRef.current?.select();
      setCopied('Selected: press Ctrl+C to copy.');
    }
  };
  return (
    <Modal title={`Connect to ${vc.name}`} onClose={onClose}>
      <ErrorBanner error={error} title="Could not get the kubeconfig" />
      <h3 className="subhead">With the CLI</h3>
      <p>kubectl then talks to the virtual cluster's own API server as you (tokens from gantry, refreshed by themselves):</p>
      <div className="copy-row">
        <label htmlFor="connect-cmd" className="sr-only">
          CLI command
        </label>
        <input id="connect-cmd" ref={cmdRef} className="code" readOnly value={cmd} onFocus={(e) => e.target.select()} />
        <button type="button" className="btn" onClick={copy} data-autofocus>
          <Icon name="copy" /> Copy
        </button>
      </div>
      <p className="field-help" role="status" aria-live="polite">
        {copied}
      </p>
      <h3 className="subhead">A kubeconfig</h3>
      <p>Through gantry's proxy. It holds no credential: add your access key or session token to it.</p>
      <button type="button" className="btn" onClick={download} disabled={busy}>
        <Icon name="download" /> {busy ? 'Downloading…' : 'Download kubeconfig'}
      </button>
      <div className="modal-footer">
        <button type="button" className="btn" onClick={onClose}>
          Close
        </button>
      </div>
    </Modal>
  );
}

export function VCDetailPage({ project, name }: { project: string; name: string }) {
  const live = useLive(() => virtualClusterSource(project, name), [project, name]);
  const [dialog, setDialog] = useState<null | 'connect' | 'delete'>(null);
  const [actionError, setActionError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = `${name} · Virtual clusters · gantry`;
  }, [name]);
  const vc = live.data;
  const notFound = live.error instanceof ApiError && live.error.status === 404;
  const crumbs = (
    <nav className="breadcrumbs" aria-label="Breadcrumbs">
      <Link to="/virtualclusters">Virtual clusters</Link> <span aria-hidden="true">/</span>{' '}
      <Link to={`/projects/${encodeURIComponent(project)}`}>{project}</Link>
    </nav>
  );
  if (!vc || notFound) {
    return (
      <section className="detail">
        {crumbs}
        <h1 id="page-title" tabIndex={-1}>
          {name}
        </h1>
        <ErrorBanner error={live.error} title={notFound ? 'Virtual cluster not found' : 'Could not load the virtual cluster'} />
        {!live.error && (
          <p className="muted" role="status">
            Loading…
          </p>
        )}
      </section>
    );
  }
  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setActionError(undefined);
    try {
      await fn();
    } catch (e) {
      setActionError(e);
    } finally {
      setBusy(false);
    }
  };
  const asleep = vc.sleeping || vc.phase === 'Sleeping';
  return (
    <section className="detail">
      {crumbs}
      <div className="page-head">
        <h1 id="page-title" tabIndex={-1}>
          {vc.name}
        </h1>
        <div className="status-row" aria-live="polite">
          <PhaseBadge phase={vc.phase} message={vc.message} />
          {vc.deleting && <span className="badge tone-warn">Deleting</span>}
        </div>
        <div className="actions">
          <button type="button" className="btn btn-primary" onClick={() => setDialog('connect')} disabled={vc.deleting}>
            <Icon name="plug" /> Connect
          </button>
          {asleep ? (
            <button type="button" className="btn" disabled={busy || vc.deleting} onClick={() => act(() => api.wakeVirtualCluster(project, name))}>
              <Icon name="sun" /> Wake
            </button>
          ) : (
            <button type="button" className="btn" disabled={busy || vc.deleting} onClick={() => act(() => api.sleepVirtualCluster(project, name))}>
              <Icon name="moon" /> Sleep
            </button>
          )}
          <button type="button" className="btn btn-danger-outline" onClick={() => setDialog('delete')} disabled={vc.deleting}>
            <Icon name="trash" /> Delete
          </button>
        </div>
      </div>
      <ErrorBanner error={actionError} title="Refused" />
      <ErrorBanner error={live.error} title="Could not update the virtual cluster" />
      {vc.message && vc.phase !== 'Running' && <p className={vc.phase === 'Failed' ? 'tone-bad' : 'muted'}>{vc.message}</p>}
      <dl className="summary">
        <div>
          <dt>Project</dt>
          <dd>
            <Link to={`/projects/${encodeURIComponent(project)}`}>{project}</Link>
          </dd>
        </div>
        <div>
          <dt>Kubernetes</dt>
          <dd>{vc.kubernetesVersion || '—'}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd title={vc.created}>{age(vc.created)} ago</dd>
        </div>
        <div>
          <dt>Last activity</dt>
          <dd>{vc.lastActivity ? `${age(vc.lastActivity)} ago` : '—'}</dd>
        </div>
        <div>
          <dt>Sleep after</dt>
          <dd>{vc.sleepAfter || 'never'}</dd>
        </div>
        <div>
          <dt>Argo CD</dt>
          <dd>{argoCDText(vc.argoCD)}</dd>
        </div>
        <div>
          <dt>Labels</dt>
          <dd>
            {Object.entries(vc.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(', ') || '—'}
          </dd>
        </div>
        <div>
          <dt>Endpoint (proxy)</dt>
          <dd>{vc.endpoint || '—'}</dd>
        </div>
      </dl>
      <h2 className="subhead">Conditions</h2>
      {vc.conditions.length === 0 ? (
        <p className="muted">No conditions yet: the reconciler has not reported.</p>
      ) : (
        <div className="table-wrap">
          <table className="apps-table" aria-label="Conditions">
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Status</th>
                <th scope="col">Reason</th>
                <th scope="col">Message</th>
                <th scope="col">Since</th>
              </tr>
            </thead>
            <tbody>
              {vc.conditions.map((c) => (
                <tr key={c.type} data-condition={c.type}>
                  <th scope="row">{c.type}</th>
                  <td>
                    <ConditionBadge status={c.status} />
                  </td>
                  <td>{c.reason}</td>
                  <td>{c.message}</td>
                  <td title={c.lastTransitionTime}>{age(c.lastTransitionTime)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {dialog === 'connect' && <ConnectDialog vc={vc} onClose={() => setDialog(null)} />}
      {dialog === 'delete' && (
        <ConfirmDeleteDialog
          what="virtual cluster"
          name={vc.name}
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api.deleteVirtualCluster(project, name);
            navigate(`/projects/${encodeURIComponent(project)}`);
          }}
        >
          <p>Its control plane, its data and every workload it runs on the host are deleted.</p>
        </ConfirmDeleteDialog>
      )}
    </section>
  );
}
