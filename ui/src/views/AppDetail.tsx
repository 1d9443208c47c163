import { useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError } from '../api/client';
import { useLive } from '../api/live';
import { applicationSource, resourceTreeSource } from '../api/sources';
import type { Application, ResourceDiff, RevisionHistory } from '../api/types';
import { HealthBadge, OperationBadge, SyncBadge } from '../components/Badges';
import { ErrorBanner } from '../components/ErrorBanner';
import { Icon } from '../components/Icon';
import { sourceOf } from '../lib/appfilter';
import { refKey } from '../lib/treelayout';
import { Link, navigate, useLocation, withQuery } from '../router';
import { destinationText } from './AppList';
import { DeleteDialog, RollbackDialog, SyncDialog } from './dialogs';
import { ResourcePanel } from './ResourcePanel';
import { ResourceTree } from './ResourceTree';

function autoSyncOn(app: Application): boolean {
  const a = app.spec.syncPolicy?.automated;
  return !!a && a.enabled !== false;
}

function short(rev?: string) {
  return rev && /^[0-9a-f]{40}$/.test(rev) ? rev.slice(0, 7) : rev ?? '';
}

function when(ts?: string) {
  return ts ? new Date(ts).toLocaleString() : '';
}

export function AppDetailPage({ namespace, name }: { namespace: string; name: string }) {
  const loc = useLocation();
  const tab = loc.search.get('tab') === 'history' ? 'history' : 'tree';
  const selectedKey = loc.search.get('resource') ?? undefined;
  const app = useLive(() => applicationSource(name, namespace), [name, namespace]);
  const tree = useLive(() => (tab === 'tree' ? resourceTreeSource(name, namespace) : null), [name, namespace, tab]);
  const [dialog, setDialog] = useState<null | 'sync' | 'delete' | { rollback: RevisionHistory }>(null);
  const [notice, setNotice] = useState<string>();
  const [actionError, setActionError] = useState<unknown>();
  const [refreshing, setRefreshing] = useState(false);

  // Diffs (managed-resources: a full comparison on the server, so not polled)
  // are loaded when a resource is opened, and again when the app changes: a new
  // sync status, revision or finished operation. The panel itself loads a
  // node's live manifest and events (/resource, /events) when their tab opens.
  const [diffs, setDiffs] = useState<{ items?: ResourceDiff[]; error?: unknown; loading: boolean }>({ loading: false });
  const st = app.data?.status;
  const version = [st?.sync?.status, st?.sync?.revision, st?.operationState?.finishedAt, st?.health?.status].join('|');
  const panelOpen = !!selectedKey;
  useEffect(() => {
    if (!panelOpen) return;
    const ctrl = new AbortController();
    setDiffs((d) => ({ ...d, loading: true }));
    api
      .managedResources(name, namespace, ctrl.signal)
      .then((items) => setDiffs({ items, loading: false }))
      .catch((error) => !ctrl.signal.aborted && setDiffs((d) => ({ ...d, error, loading: false })));
    return () => ctrl.abort();
  }, [name, namespace, panelOpen, version]);

  useEffect(() => {
    document.title = `${name} · Applications · gantry`;
  }, [name]);

  // The app comes live from the stream; its tree is polled. When the app
  // changes (sync, health, an operation), fetch the tree at once too.
  const treeVersion = version + '|' + st?.operationState?.phase + '|' + (st?.resources ?? []).map((r) => r.health?.status ?? '').join(',');
  const reloadTree = tree.reload;
  const seenTree = useRef('');
  useEffect(() => {
    if (seenTree.current && seenTree.current !== treeVersion) reloadTree();
    seenTree.current = treeVersion;
  }, [treeVersion, reloadTree]);

  const a = app.data;
  const notFound = app.error instanceof ApiError && app.error.status === 404;

  const select = useCallback(
    (key: string | null) => navigate(withQuery(loc, { resource: key }), { replace: !!selectedKey && !!key }),
    [loc, selectedKey],
  );

  if (notFound) {
    return (
      <section className="detail">
        <h1 id="page-title" tabIndex={-1}>
          {name}
        </h1>
        <ErrorBanner error={app.error} title="Application not found" />
        <p>
          <Link to="/applications">Back to Applications</Link>
        </p>
      </section>
    );
  }
  if (!a) {
    return (
      <section className="detail">
        <h1 id="page-title" tabIndex={-1}>
          {name}
        </h1>
        <ErrorBanner error={app.error} title="Could not load the application" />
        {!app.error && <p className="muted" role="status">Loading…</p>}
      </section>
    );
  }

  const src = sourceOf(a);
  const op = a.status?.operationState;
  const running = op?.phase === 'Running' || !!a.operation;
  const nodes = tree.data ?? [];
  const selectedNode = selectedKey ? nodes.find((n) => refKey(n) === selectedKey) : undefined;
  const selectedDiff = selectedNode
    ? diffs.items?.find(
        (d) =>
          (d.group ?? '') === (selectedNode.group ?? '') &&
          d.kind === selectedNode.kind &&
          (d.namespace ?? '') === (selectedNode.namespace ?? '') &&
          d.name === selectedNode.name,
      )
    : undefined;
  const history = [...(a.status?.history ?? [])].reverse();
  const deployed = history[0]?.revision ?? history[0]?.revisions?.join(', ');
  const deleting = !!a.metadata.deletionTimestamp;

  const refresh = async () => {
    setRefreshing(true);
    setActionError(undefined);
    try {
      await api.refreshApplication(name, namespace);
      app.reload();
      tree.reload();
    } catch (e) {
      setActionError(e);
    } finally {
      setRefreshing(false);
    }
  };

  return (
    <section className={'detail' + (selectedNode ? ' with-panel' : '')}>
      <nav className="breadcrumbs" aria-label="Breadcrumbs">
        <Link to="/applications">Applications</Link> <span aria-hidden="true">/</span> <span>{namespace}</span>
      </nav>
      <div className="page-head">
        <h1 id="page-title" tabIndex={-1}>
          {a.metadata.name}
        </h1>
        <div className="status-row" aria-live="polite">
          <SyncBadge status={a.status?.sync?.status} />
          <HealthBadge status={a.status?.health?.status} message={a.status?.health?.message} />
          {op && <OperationBadge phase={op.phase} message={op.message} />}
          {deleting && <span className="badge tone-bad">Deleting</span>}
        </div>
        <div className="actions">
          <button type="button" className="btn btn-primary" onClick={() => setDialog('sync')} disabled={running || deleting}>
            <Icon name="sync" /> Sync
          </button>
          <button type="button" className="btn" onClick={refresh} disabled={refreshing}>
            <Icon name="refresh" /> {refreshing ? 'Refreshing…' : 'Refresh'}
          </button>
          <button type="button" className="btn btn-danger-outline" onClick={() => setDialog('delete')} disabled={deleting}>
            <Icon name="trash" /> Delete
          </button>
        </div>
      </div>
      {notice && (
        <div className="alert alert-info" role="status">
          {notice}{' '}
          <button type="button" className="btn btn-link" onClick={() => setNotice(undefined)}>
            Dismiss
          </button>
        </div>
      )}
      <ErrorBanner error={actionError} title="Refresh failed" />
      <ErrorBanner error={app.error} title="Could not update the application" />
      {a.status?.conditions?.map((c, i) => (
        <div key={i} className={'alert ' + (/Error$/.test(c.type) ? 'alert-error' : 'alert-warn')} role="alert">
          <strong>{c.type}: </strong>
          {c.message}
        </div>
      ))}
      {op?.message && (
        <p className={'op-message tone-' + (op.phase === 'Failed' || op.phase === 'Error' ? 'bad' : 'muted')}>
          Last operation ({op.phase}
          {op.operation?.sync?.dryRun ? ', dry run' : ''}
          {op.finishedAt ? `, ${when(op.finishedAt)}` : ''}): {op.message}
        </p>
      )}
      <dl className="summary">
        <div>
          <dt>Project</dt>
          <dd>{a.spec.project || 'default'}</dd>
        </div>
        <div>
          <dt>Repository</dt>
          <dd className="truncate" title={src?.repoURL}>
            {src?.repoURL}
          </dd>
        </div>
        <div>
          <dt>{src?.chart ? 'Chart' : 'Path'}</dt>
          <dd>{src?.chart ?? (src?.path || '.')}</dd>
        </div>
        <div>
          <dt>Target revision</dt>
          <dd>{src?.targetRevision || 'HEAD'}</dd>
        </div>
        <div>
          <dt>Compared with</dt>
          <dd title={a.status?.sync?.revision}>{short(a.status?.sync?.revision) || '—'}</dd>
        </div>
        <div>
          <dt>Deployed</dt>
          <dd title={deployed}>{short(deployed) || '—'}</dd>
        </div>
        <div>
          <dt>Destination</dt>
          <dd>{destinationText(a)}</dd>
        </div>
        <div>
          <dt>Sync policy</dt>
          <dd>
            {autoSyncOn(a)
              ? `automated${a.spec.syncPolicy?.automated?.prune ? ', prune' : ''}${a.spec.syncPolicy?.automated?.selfHeal ? ', self-heal' : ''}`
              : 'manual'}
          </dd>
        </div>
        <div>
          <dt>Compared</dt>
          <dd>{when(a.status?.reconciledAt) || '—'}</dd>
        </div>
      </dl>
      <div role="tablist" className="tabs" aria-label="Application views">
        <Link
          to={withQuery(loc, { tab: null })}
          role="tab"
          aria-selected={tab === 'tree'}
          className={'tab' + (tab === 'tree' ? ' active' : '')}
          replace
        >
          Resources
        </Link>
        <Link
          to={withQuery(loc, { tab: 'history', resource: null })}
          role="tab"
          aria-selected={tab === 'history'}
          className={'tab' + (tab === 'history' ? ' active' : '')}
          replace
        >
          <Icon name="history" /> History and rollback
        </Link>
      </div>
      {tab === 'tree' && (
        <div className="tree-area">
          <div className="tree-main">
            <ErrorBanner error={tree.error} title="Could not load the resource tree" />
            {tree.loading && !tree.data ? (
              <p className="muted" role="status">
                Loading resources…
              </p>
            ) : nodes.length === 0 ? (
              <p className="muted">No resources yet{a.status?.sync?.status === 'OutOfSync' ? ': sync the application to create them' : ''}.</p>
            ) : (
              <ResourceTree app={a} nodes={nodes} selected={selectedKey} onSelect={(n) => select(refKey(n))} />
            )}
          </div>
          {selectedNode && (
            <ResourcePanel
              appName={name}
              appNamespace={namespace}
              node={selectedNode}
              diff={selectedDiff}
              diffError={diffs.error}
              diffLoading={diffs.loading}
              onClose={() => select(null)}
            />
          )}
        </div>
      )}
      {tab === 'history' && (
        <div className="history">
          {autoSyncOn(a) && (
            <p className="muted">Rollback is off while automated sync is on: it would undo the rollback. Turn off spec.syncPolicy.automated first.</p>
          )}
          {history.length === 0 ? (
            <p className="muted">No sync has been recorded yet.</p>
          ) : (
            <table className="apps-table">
              <thead>
                <tr>
                  <th scope="col">ID</th>
                  <th scope="col">Revision</th>
                  <th scope="col">Deployed</th>
                  <th scope="col">By</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {history.map((h, i) => (
                  <tr key={h.id}>
                    <td>#{h.id}{i === 0 && <span className="subtle"> (current)</span>}</td>
                    <td title={h.revision}>
                      <code>{short(h.revision) || h.revisions?.map(short).join(', ')}</code>
                    </td>
                    <td>{when(h.deployedAt)}</td>
                    <td>{h.initiatedBy?.automated ? 'automated' : h.initiatedBy?.username || '—'}</td>
                    <td>
                      <button
                        type="button"
                        className="btn btn-small"
                        disabled={autoSyncOn(a) || running || i === 0}
                        onClick={() => setDialog({ rollback: h })}
                      >
                        Roll back
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
      {dialog === 'sync' && (
        <SyncDialog
          app={a}
          onClose={() => setDialog(null)}
          onDone={() => {
            setDialog(null);
            setNotice('Sync started.');
            app.reload();
          }}
        />
      )}
      {dialog === 'delete' && (
        <DeleteDialog app={a} onClose={() => setDialog(null)} onDone={() => navigate('/applications')} />
      )}
      {dialog && typeof dialog === 'object' && (
        <RollbackDialog
          app={a}
          entry={dialog.rollback}
          onClose={() => setDialog(null)}
          onDone={() => {
            setDialog(null);
            setNotice(`Rollback to #${dialog.rollback.id} started.`);
            app.reload();
          }}
        />
      )}
    </section>
  );
}
