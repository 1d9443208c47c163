import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { Cluster, Project } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { SelectField, Switch, TextField } from '../components/Form';
import { applicationFromForm, clusterLabel, emptyAppForm, validateAppForm, type AppForm, type AppFormErrors } from '../lib/appform';
import { Link, navigate, useLocation } from '../router';
import { appHref } from './AppList';

export function AppCreatePage() {
  const loc = useLocation();
  const [form, setForm] = useState<AppForm>(() => ({ ...emptyAppForm, project: loc.search.get('project') || emptyAppForm.project }));
  const [errors, setErrors] = useState<AppFormErrors>({});
  const [projects, setProjects] = useState<Project[]>();
  const [clusters, setClusters] = useState<Cluster[]>();
  const [loadError, setLoadError] = useState<unknown>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = 'New application · gantry';
    const ctrl = new AbortController();
    Promise.all([api.listProjects(ctrl.signal), api.listClusters(ctrl.signal)])
      .then(([ps, cs]) => {
        setProjects(ps);
        setClusters(cs);
        setForm((f) => (ps.length && !ps.some((p) => p.name === f.project) ? { ...f, project: ps[0].name } : f));
      })
      .catch((e) => !ctrl.signal.aborted && setLoadError(e));
    return () => ctrl.abort();
  }, []);
  const set = <K extends keyof AppForm>(k: K, v: AppForm[K]) => setForm((f) => ({ ...f, [k]: v }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const v = validateAppForm(form);
    setErrors(v);
    if (Object.keys(v).length) return document.getElementById('app-' + Object.keys(v)[0])?.focus();
    setBusy(true);
    setError(undefined);
    try {
      const created = await api.createApplication(applicationFromForm(form, clusters ?? []));
      navigate(appHref(created));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const text = (k: 'name' | 'repoURL' | 'revision' | 'path' | 'namespace') => ({
    value: form[k],
    onChange: (e: React.ChangeEvent<HTMLInputElement>) => set(k, e.target.value),
    error: errors[k],
  });
  return (
    <section className="detail narrow">
      <nav className="breadcrumbs" aria-label="Breadcrumbs">
        <Link to="/applications">Applications</Link>
      </nav>
      <div className="page-head">
        <h1 id="page-title" tabIndex={-1}>
          New application
        </h1>
      </div>
      <ErrorBanner error={loadError} title="Could not load projects and clusters" />
      <form className="card settings-form" onSubmit={submit} noValidate aria-labelledby="page-title">
        <ErrorBanner error={error} title="Could not create the application" />
        <h2 className="subhead">General</h2>
        <div className="form-row">
          <TextField id="app-name" label="Application name" {...text('name')} />
          <SelectField id="app-project" label="Project" value={form.project} onChange={(e) => set('project', e.target.value)} error={errors.project}>
            {!projects && <option value={form.project}>{form.project}</option>}
            {projects?.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </SelectField>
        </div>
        <h2 className="subhead">Source</h2>
        <TextField id="app-repoURL" label="Repository URL" placeholder="https://github.com/org/repo.git" {...text('repoURL')} />
        <div className="form-row">
          <TextField id="app-revision" label="Revision" placeholder="HEAD" help="A branch, tag or commit." {...text('revision')} />
          <TextField id="app-path" label="Path" placeholder="." help="The directory in the repository." {...text('path')} />
        </div>
        <h2 className="subhead">Destination</h2>
        <div className="form-row">
          <SelectField id="app-cluster" label="Cluster" value={form.cluster} onChange={(e) => set('cluster', e.target.value)} error={errors.cluster}>
            {!clusters && <option value={form.cluster}>Loading…</option>}
            {clusters?.map((c) => (
              <option key={c.name} value={c.name}>
                {clusterLabel(c)}
              </option>
            ))}
          </SelectField>
          <TextField id="app-namespace" label="Namespace" placeholder="default" {...text('namespace')} />
        </div>
        <h2 className="subhead">Sync policy</h2>
        <fieldset className="radio-group">
          <legend className="sr-only">Sync policy</legend>
          <label className="check">
            <input type="radio" name="app-sync" checked={!form.automated} onChange={() => set('automated', false)} /> Manual: sync when you say
          </label>
          <label className="check">
            <input type="radio" name="app-sync" checked={form.automated} onChange={() => set('automated', true)} /> Automated: sync every new
            commit
          </label>
        </fieldset>
        {form.automated && (
          <div className="subsection">
            <Switch id="app-prune" label="Prune resources" checked={form.prune} onChange={(v) => set('prune', v)} help="Delete what Git no longer has." />
            <Switch id="app-selfHeal" label="Self heal" checked={form.selfHeal} onChange={(v) => set('selfHeal', v)} help="Undo changes made in the cluster." />
          </div>
        )}
        <label className="check">
          <input type="checkbox" checked={form.createNamespace} onChange={(e) => set('createNamespace', e.target.checked)} /> Create the namespace
          (CreateNamespace=true)
        </label>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create'}
          </button>
          <Link to="/applications" className="btn">
            Cancel
          </Link>
        </div>
      </form>
    </section>
  );
}
