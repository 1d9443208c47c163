import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../api/client';
import { PROJECT_ROLES, type Cluster, type Project, type ProjectRole } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { SelectField, Switch, TextArea, TextField } from '../components/Form';
import { argoConditionWords, argoFromForm, argoServerWords, BUILTIN_ROLES, formFromArgo, roleNameError, validateArgo, type ArgoErrors, type ArgoForm } from '../lib/argocd';
import { parseQuota, quotaError } from '../lib/validate';

type QuotaKey = 'virtualClusters' | 'runningVirtualClusters' | 'applications';
const QUOTAS: { key: QuotaKey; label: string }[] = [
  { key: 'virtualClusters', label: 'Virtual clusters' },
  { key: 'runningVirtualClusters', label: 'Running virtual clusters' },
  { key: 'applications', label: 'Applications' },
];

/** What a save of the general settings sends: only what changed (PUT merges). */
export function generalChanges(
  p: Project,
  displayName: string,
  description: string,
  quotas: Record<QuotaKey, string>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (displayName.trim() !== (p.displayName ?? '')) out.displayName = displayName.trim();
  if (description.trim() !== (p.description ?? '')) out.description = description.trim();
  const q: Partial<Record<QuotaKey, number>> = {};
  let changed = false;
  for (const { key } of QUOTAS) {
    const v = parseQuota(quotas[key]);
    if (v !== undefined) q[key] = v;
    if (v !== p.quotas[key]) changed = true;
  }
  if (changed) out.quotas = q;
  return out;
}

function quotaText(v: number | undefined) {
  return v === undefined ? '' : String(v);
}

export function GeneralSettings({ project, onSaved }: { project: Project; onSaved: (p: Project) => void }) {
  const [displayName, setDisplayName] = useState(project.displayName ?? '');
  const [description, setDescription] = useState(project.description ?? '');
  const [quotas, setQuotas] = useState<Record<QuotaKey, string>>({
    virtualClusters: quotaText(project.quotas.virtualClusters),
    runningVirtualClusters: quotaText(project.quotas.runningVirtualClusters),
    applications: quotaText(project.quotas.applications),
  });
  const [errors, setErrors] = useState<Partial<Record<QuotaKey | 'displayName', string>>>({});
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const [busy, setBusy] = useState(false);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    const v: Partial<Record<QuotaKey | 'displayName', string>> = {};
    for (const { key } of QUOTAS) {
      const qe = quotaError(quotas[key]);
      if (qe) v[key] = qe;
    }
    if (displayName.length > 253) v.displayName = 'At most 253 characters.';
    setErrors(v);
    setSaved(undefined);
    if (Object.keys(v).length) return document.getElementById('settings-' + Object.keys(v)[0])?.focus();
    const changes = generalChanges(project, displayName, description, quotas);
    if (!Object.keys(changes).length) return setSaved('Nothing to save: no field changed.');
    setBusy(true);
    setError(undefined);
    try {
      onSaved(await api.updateProject(project.name, changes));
      setSaved('Saved.');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card settings-form" onSubmit={save} noValidate aria-label="General settings">
      <ErrorBanner error={error} title="Not saved" />
      <TextField id="settings-displayName" label="Display name" value={displayName} onChange={(e) => setDisplayName(e.target.value)} error={errors.displayName} />
      <TextArea id="settings-description" label="Description" rows={3} value={description} onChange={(e) => setDescription(e.target.value)} />
      <fieldset className="quota-group">
        <legend>Quotas</legend>
        <p className="field-help">Empty for no limit. Raising or removing a limit needs an administrator.</p>
        <div className="form-row">
          {QUOTAS.map(({ key, label }) => (
            <TextField
              key={key}
              id={'settings-' + key}
              label={label}
              inputMode="numeric"
              placeholder="no limit"
              value={quotas[key]}
              onChange={(e) => setQuotas((q) => ({ ...q, [key]: e.target.value }))}
              error={errors[key]}
              help={project.usage ? `in use: ${project.usage[key]}` : undefined}
            />
          ))}
        </div>
      </fieldset>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save'}
        </button>
        <span role="status" className="muted">
          {saved}
        </span>
      </div>
    </form>
  );
}

/** The Argo CD roles given to one project role: Read Only, Admin, and custom role names typed in. */
function RolePicker({
  projectRole,
  roles,
  onChange,
}: {
  projectRole: ProjectRole;
  roles: string[];
  onChange: (roles: string[]) => void;
}) {
  const [custom, setCustom] = useState('');
  const [err, setErr] = useState<string>();
  const id = 'roles-' + projectRole;
  const customs = roles.filter((r) => !BUILTIN_ROLES.some((b) => b.role === r));
  const toggle = (r: string, on: boolean) => onChange(on ? [...roles, r] : roles.filter((x) => x !== r));
  const add = () => {
    const t = custom.trim();
    const e = roleNameError(t);
    setErr(e);
    if (e) return;
    if (!roles.includes(t)) onChange([...roles, t]);
    setCustom('');
  };
  return (
    <fieldset className="role-picker" data-project-role={projectRole}>
      <legend>{projectRole}</legend>
      <div className="role-options">
        {BUILTIN_ROLES.map((b) => (
          <label key={b.role} className="check">
            <input type="checkbox" checked={roles.includes(b.role)} onChange={(e) => toggle(b.role, e.target.checked)} /> {b.label}{' '}
            <span className="subtle">({b.role})</span>
          </label>
        ))}
        {customs.map((r) => (
          <label key={r} className="check">
            <input type="checkbox" checked onChange={() => toggle(r, false)} /> {r}
          </label>
        ))}
      </div>
      <div className="copy-row">
        <label htmlFor={id + '-custom'} className="sr-only">
          Custom Argo CD role for {projectRole}
        </label>
        <input
          id={id + '-custom'}
          placeholder="role:deployer"
          value={custom}
          aria-invalid={!!err}
          aria-describedby={err ? id + '-error' : undefined}
          onChange={(e) => setCustom(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              add();
            }
          }}
        />
        <button type="button" className="btn btn-small" onClick={add} aria-label={`Add custom role for ${projectRole}`}>
          Add
        </button>
      </div>
      {err && (
        <p className="field-error" id={id + '-error'}>
          {err}
        </p>
      )}
    </fieldset>
  );
}

export function ArgoCondition({ project }: { project: Project }) {
  const w = argoConditionWords(project.conditions, !!project.argoCD?.enabled);
  const server = project.argoCD?.enabled ? argoServerWords(project.conditions) : undefined;
  return (
    <>
      <div className={`condition-box tone-border-${w.tone}`} role="status" aria-live="polite" data-argo-condition={w.title}>
        <strong className={'tone-' + w.tone}>{w.title}</strong>
        {w.message && <div className="condition-message">{w.message}</div>}
      </div>
      {server && (
        <div className={`condition-box tone-border-${server.tone}`} role="status" data-argo-server-condition={server.title}>
          <strong className={'tone-' + server.tone}>{server.title}</strong>
          {server.message && <div className="condition-message">{server.message}</div>}
        </div>
      )}
    </>
  );
}

export function ArgoSettings({ project, onSaved }: { project: Project; onSaved: (p: Project) => void }) {
  const [form, setForm] = useState<ArgoForm>(() => formFromArgo(project.argoCD));
  const [errors, setErrors] = useState<ArgoErrors>({});
  const [clusters, setClusters] = useState<Cluster[]>();
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const ctrl = new AbortController();
    api
      .listClusters(ctrl.signal)
      .then(setClusters)
      .catch((e) => !ctrl.signal.aborted && setError(e));
    return () => ctrl.abort();
  }, []);
  const set = <K extends keyof ArgoForm>(k: K, v: ArgoForm[K]) => setForm((f) => ({ ...f, [k]: v }));
  const save = async (e: FormEvent) => {
    e.preventDefault();
    const v = validateArgo(form);
    setErrors(v);
    setSaved(undefined);
    if (Object.keys(v).length) return document.getElementById('argo-' + Object.keys(v)[0])?.focus();
    setBusy(true);
    setError(undefined);
    try {
      const p = await api.updateProject(project.name, { argoCD: argoFromForm(form, project.argoCD) });
      onSaved(p);
      setForm(formFromArgo(p.argoCD));
      setSaved('Saved: gantry applies it now; the state below follows.');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const known = clusters ?? [];
  const clusterOptions = form.cluster && !known.some((c) => c.name === form.cluster) ? [...known, { name: form.cluster, server: '' }] : known;
  return (
    <form className="card settings-form" onSubmit={save} noValidate aria-label="Argo CD settings">
      <h2 className="subhead">State</h2>
      <ArgoCondition project={project} />
      <ErrorBanner error={error} title="Not saved" />
      <Switch
        id="argo-enabled"
        label="Argo CD Integration"
        checked={form.enabled}
        onChange={(v) => set('enabled', v)}
        help="Registers this project's virtual clusters in your Argo CD (through gantry's proxy)."
      />
      {form.enabled && (
        <div className="subsection">
          <div className="form-row">
            <SelectField id="argo-cluster" label="Cluster where Argo CD runs" value={form.cluster} onChange={(e) => set('cluster', e.target.value)}>
              {!clusters && <option value="">Loading…</option>}
              {clusterOptions.map((c) => (
                <option key={c.name} value={c.server === 'https://kubernetes.default.svc' ? '' : c.name}>
                  {c.server === 'https://kubernetes.default.svc' ? `${c.name} (the host)` : c.name}
                </option>
              ))}
            </SelectField>
            <TextField id="argo-namespace" label="Namespace" value={form.namespace} onChange={(e) => set('namespace', e.target.value)} error={errors.namespace} help="Argo CD's namespace (default argocd)." />
          </div>
          <label className="check">
            <input type="checkbox" checked={form.importVirtualClusters} onChange={(e) => set('importVirtualClusters', e.target.checked)} /> Add every virtual
            cluster of the project by default (each can say otherwise)
          </label>
          <Switch
            id="argo-sso"
            label="Enable SSO Integration"
            checked={form.ssoEnabled}
            onChange={(v) => set('ssoEnabled', v)}
            help="Argo CD's users sign in with gantry; their project roles become Argo CD roles."
          />
          {form.ssoEnabled && (
            <div className="subsection">
              <TextField
                id="argo-ssoHost"
                label="Argo CD URL"
                placeholder="https://argocd.example.com"
                value={form.ssoHost}
                onChange={(e) => set('ssoHost', e.target.value)}
                error={errors.ssoHost}
                help="Argo CD's external URL (argocd-cm url)."
              />
              <fieldset className="roles-group">
                <legend>Assigned Roles</legend>
                <p className="field-help">Argo CD roles for the holders of each project role. Granting roles needs an administrator.</p>
                {errors.roles && <p className="field-error">{errors.roles}</p>}
                <div className="role-grid">
                  {PROJECT_ROLES.map((pr) => (
                    <RolePicker key={pr} projectRole={pr} roles={form.roles[pr]} onChange={(r) => set('roles', { ...form.roles, [pr]: r })} />
                  ))}
                </div>
              </fieldset>
            </div>
          )}
          <Switch
            id="argo-appproject"
            label="Create an Argo CD AppProject"
            checked={form.appProject}
            onChange={(v) => set('appProject', v)}
            help={`An AppProject named ${project.name}, limited to this project's clusters.`}
          />
          {form.appProject && (
            <TextArea
              id="argo-sourceRepos"
              label="Source repositories"
              rows={2}
              placeholder="*"
              value={form.sourceRepos}
              onChange={(e) => set('sourceRepos', e.target.value)}
              help="One per line (globs allowed); empty allows every repository."
            />
          )}
        </div>
      )}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save'}
        </button>
        <span role="status" className="muted">
          {saved}
        </span>
      </div>
    </form>
  );
}
