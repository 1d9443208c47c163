import { useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { Application, RevisionHistory } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';
import { Modal } from '../components/Modal';
import { validateRevision } from '../lib/revision';

export { validateRevision };

export function SyncDialog({ app, onClose, onDone }: { app: Application; onClose: () => void; onDone: () => void }) {
  const [prune, setPrune] = useState(false);
  const [dryRun, setDryRun] = useState(false);
  const [revision, setRevision] = useState('');
  const [revError, setRevError] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const v = validateRevision(revision);
    setRevError(v);
    if (v) return;
    setBusy(true);
    setError(undefined);
    try {
      await api.sync(app.metadata.name, app.metadata.namespace, { prune, dryRun, ...(revision.trim() ? { revision: revision.trim() } : {}) });
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={`Sync ${app.metadata.name}`} onClose={onClose} busy={busy}>
      <form onSubmit={submit} noValidate>
        <ErrorBanner error={error} title="Sync refused" />
        <div className="field">
          <label htmlFor="sync-revision">Revision</label>
          <input
            id="sync-revision"
            value={revision}
            placeholder={app.spec.source?.targetRevision || 'HEAD'}
            onChange={(e) => setRevision(e.target.value)}
            aria-invalid={!!revError}
            aria-describedby="sync-revision-help"
          />
          <p className={revError ? 'field-error' : 'field-help'} id="sync-revision-help">
            {revError ?? 'Empty: the target revision of the application.'}
          </p>
        </div>
        <label className="check">
          <input type="checkbox" checked={prune} onChange={(e) => setPrune(e.target.checked)} /> Prune: delete resources no longer in Git
        </label>
        <label className="check">
          <input type="checkbox" checked={dryRun} onChange={(e) => setDryRun(e.target.checked)} /> Dry run: check with the
          API server, change nothing
        </label>
        <div className="modal-footer">
          <button type="button" className="btn" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy} data-autofocus>
            {busy ? 'Starting…' : dryRun ? 'Dry run' : 'Synchronize'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function DeleteDialog({ app, onClose, onDone }: { app: Application; onClose: () => void; onDone: () => void }) {
  const [typed, setTyped] = useState('');
  const [cascade, setCascade] = useState(true);
  const [policy, setPolicy] = useState('foreground');
  const [error, setError] = useState<unknown>();
  const [typedError, setTypedError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const name = app.metadata.name;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (typed !== name) {
      setTypedError(`Type ${name} to confirm.`);
      return;
    }
    setTypedError(undefined);
    setBusy(true);
    setError(undefined);
    try {
      await api.deleteApplication(name, app.metadata.namespace, cascade, policy);
      onDone();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Modal title={`Delete ${name}?`} onClose={onClose} busy={busy}>
      <form onSubmit={submit} noValidate>
        <ErrorBanner error={error} title="Delete refused" />
        <p>
          {cascade
            ? 'The application and every resource it deployed are deleted.'
            : 'The application is deleted; the resources it deployed are left in the cluster.'}
        </p>
        <label className="check">
          <input type="checkbox" checked={cascade} onChange={(e) => setCascade(e.target.checked)} /> Delete its resources
          too (cascade)
        </label>
        {cascade && (
          <div className="field">
            <label htmlFor="delete-policy">Propagation</label>
            <select id="delete-policy" value={policy} onChange={(e) => setPolicy(e.target.value)}>
              <option value="foreground">Foreground: the app goes when its resources are gone</option>
              <option value="background">Background: the app goes at once</option>
            </select>
          </div>
        )}
        <div className="field">
          <label htmlFor="delete-confirm">
            Type <strong>{name}</strong> to confirm
          </label>
          <input
            id="delete-confirm"
            autoComplete="off"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
            aria-invalid={!!typedError}
            aria-describedby={typedError ? 'delete-confirm-error' : undefined}
            data-autofocus
          />
          {typedError && (
            <p className="field-error" id="delete-confirm-error">
              {typedError}
            </p>
          )}
        </div>
        <div className="modal-footer">
          <button type="button" className="btn" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="btn btn-danger" disabled={busy}>
            {busy ? 'Deleting…' : 'Delete'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function RollbackDialog({
  app,
  entry,
  onClose,
  onDone,
}: {
  app: Application;
  entry: RevisionHistory;
  onClose: () => void;
  onDone: () => void;
}) {
  const [prune, setPrune] = useState(false);
  const [dryRun, setDryRun] = useState(false);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api.rollback(app.metadata.name, app.metadata.namespace, { id: entry.id, prune, dryRun });
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={`Roll back ${app.metadata.name} to #${entry.id}?`} onClose={onClose} busy={busy}>
      <form onSubmit={submit} noValidate>
        <ErrorBanner error={error} title="Rollback refused" />
        <p>
          Syncs revision <code>{(entry.revision ?? entry.revisions?.join(', ') ?? '').slice(0, 12)}</code>, deployed{' '}
          {new Date(entry.deployedAt).toLocaleString()}.
        </p>
        <label className="check">
          <input type="checkbox" checked={prune} onChange={(e) => setPrune(e.target.checked)} /> Prune
        </label>
        <label className="check">
          <input type="checkbox" checked={dryRun} onChange={(e) => setDryRun(e.target.checked)} /> Dry run
        </label>
        <div className="modal-footer">
          <button type="button" className="btn" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy} data-autofocus>
            {busy ? 'Starting…' : 'Roll back'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
