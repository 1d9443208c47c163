import { useEffect, useRef, useState } from 'react';
import { api } from '../api/client';
import type { KubeEvent, ResourceAction, ResourceDiff, ResourceNode } from '../api/types';
import { HealthBadge } from '../components/Badges';
import { ErrorBanner } from '../components/ErrorBanner';
import { Icon } from '../components/Icon';
import { eventRows } from '../lib/events';
import { portForwardCommand } from '../lib/portforward';
import { liveManifestYaml } from '../lib/yaml';
import { PodLogs } from './PodLogs';

type Tab = 'summary' | 'live' | 'events' | 'logs' | 'diff';

export function DiffView({ diff }: { diff: string }) {
  const lines = diff.replace(/\n$/, '').split('\n');
  return (
    <pre className="code diff" aria-label="Differences">
      {lines.map((l, i) => {
        const cls =
          l.startsWith('+++') || l.startsWith('---')
            ? 'diff-file'
            : l.startsWith('+')
              ? 'diff-add'
              : l.startsWith('-')
                ? 'diff-del'
                : l.startsWith('@@')
                  ? 'diff-hunk'
                  : '';
        return (
          <span key={i} className={'diff-line ' + cls}>
            {l + '\n'}
          </span>
        );
      })}
    </pre>
  );
}

/** What is loaded for the panel: nothing yet, loading, a value or an error. */
interface Loaded<T> {
  key?: string;
  value?: T;
  error?: unknown;
  loading: boolean;
}

/** Loads fn's value while active, again when key changes; aborted when left. */
function useLoad<T>(active: boolean, key: string, fn: (signal: AbortSignal) => Promise<T>): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ loading: false });
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    if (!active) return;
    const ctrl = new AbortController();
    setState((s) => ({ ...(s.key === key ? s : {}), key, loading: true }));
    fnRef.current(ctrl.signal).then(
      (value) => !ctrl.signal.aborted && setState({ key, value, loading: false }),
      (error) => !ctrl.signal.aborted && setState({ key, error, loading: false }),
    );
    return () => ctrl.abort();
  }, [active, key]);
  return state.key === key ? state : { loading: active };
}

/** A node's events: type, reason, message, age and count, newest first. */
export function EventsTable({ items }: { items: KubeEvent[] }) {
  const rows = eventRows(items);
  if (rows.length === 0) return <p className="muted">No events: Kubernetes keeps them for an hour.</p>;
  return (
    <table className="apps-table events-table" aria-label="Events">
      <thead>
        <tr>
          <th scope="col">Type</th>
          <th scope="col">Reason</th>
          <th scope="col">Message</th>
          <th scope="col">Age</th>
          <th scope="col">Count</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key} className={r.warning ? 'event-warning' : undefined}>
            <td>{r.type}</td>
            <td>{r.reason}</td>
            <td className="event-message">{r.message}</td>
            <td>{r.age}</td>
            <td>{r.count}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * The side panel of a resource of the tree: facts, its live manifest (Argo CD's
 * /resource, read from the destination for any node, managed or not), its events
 * (/events), and for a managed resource its diff with Git (managed-resources).
 */
export function ResourcePanel({
  appName,
  appNamespace,
  node,
  diff,
  diffError,
  diffLoading,
  onClose,
}: {
  appName: string;
  appNamespace?: string;
  node: ResourceNode;
  diff: ResourceDiff | undefined;
  diffError: unknown;
  diffLoading: boolean;
  onClose: () => void;
}) {
  const [tab, setTab] = useState<Tab>('summary');
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    closeRef.current?.focus();
  }, [node.uid, node.name]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [onClose]);
  const managed = !node.parentRefs?.length;
  const tabs: [Tab, string][] = [
    ['summary', 'Summary'],
    ['live', 'Live manifest'],
    ['events', 'Events'],
  ];
  const isPod = node.kind === 'Pod' && !node.group;
  if (isPod) tabs.push(['logs', 'Logs']);
  if (managed) tabs.push(['diff', 'Diff']);
  const shown = tabs.some(([t]) => t === tab) ? tab : 'summary';
  const nodeKey = [appNamespace, appName, node.group, node.kind, node.namespace, node.name, node.uid, node.resourceVersion].join('|');
  const forward = portForwardCommand(node);
  const live = useLoad(shown === 'live', nodeKey, (signal) => api.resource(appName, appNamespace, node, signal));
  const events = useLoad(shown === 'events', nodeKey, (signal) => api.events(appName, appNamespace, node, signal));
  return (
    <aside className="panel" aria-labelledby="panel-title">
      <div className="panel-head">
        <div>
          <div className="subtle">{node.kind}</div>
          <h2 id="panel-title">{node.name}</h2>
        </div>
        <button ref={closeRef} type="button" className="btn btn-icon" onClick={onClose} aria-label="Close resource details">
          <Icon name="close" />
        </button>
      </div>
      <div role="tablist" className="tabs" aria-label="Resource views">
        {tabs.map(([t, label]) => (
          <button
            key={t}
            role="tab"
            type="button"
            id={`rtab-${t}`}
            aria-selected={shown === t}
            aria-controls={`rpanel-${t}`}
            tabIndex={shown === t ? 0 : -1}
            className={'tab' + (shown === t ? ' active' : '')}
            onClick={() => setTab(t)}
            onKeyDown={(e) => {
              const i = tabs.findIndex(([x]) => x === t);
              if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
                const n = tabs[(i + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length][0];
                setTab(n);
                document.getElementById(`rtab-${n}`)?.focus();
              }
            }}
          >
            {label}
            {t === 'diff' && diff?.modified && <span className="dot-warn" aria-label="(differs)" />}
          </button>
        ))}
      </div>
      <div className="panel-body" role="tabpanel" id={`rpanel-${shown}`} aria-labelledby={`rtab-${shown}`}>
        {shown === 'summary' && (
          <dl className="facts">
            <dt>Kind</dt>
            <dd>{[node.group, node.version, node.kind].filter(Boolean).join('/')}</dd>
            {node.namespace && (
              <>
                <dt>Namespace</dt>
                <dd>{node.namespace}</dd>
              </>
            )}
            {node.health && (
              <>
                <dt>Health</dt>
                <dd>
                  <HealthBadge status={node.health.status} />
                  {node.health.message && <div className="subtle">{node.health.message}</div>}
                </dd>
              </>
            )}
            {node.info?.map((i) => (
              <FactRow key={i.name} name={i.name} value={i.value} />
            ))}
            {node.images?.length ? <FactRow name="Images" value={node.images.join(', ')} /> : null}
            {node.createdAt && <FactRow name="Created" value={new Date(node.createdAt).toLocaleString()} />}
            {node.uid && <FactRow name="UID" value={node.uid} />}
            {!managed && (
              <FactRow name="Belongs to" value={node.parentRefs!.map((p) => p.kind + ' ' + p.name).join(', ')} />
            )}
            {managed && diff && <FactRow name="In sync with Git" value={diff.modified ? 'no' : 'yes'} />}
            {forward && (
              <>
                <dt>Open it</dt>
                <dd>
                  <code className="code">{forward}</code>
                  <div className="subtle">
                    With the destination cluster's kubeconfig (gantry vcluster connect), put its port for PORT, then open
                    http://localhost:8080. gantry does not serve a workload's own pages on its address: they could act as you
                    there.
                  </div>
                </dd>
              </>
            )}
          </dl>
        )}
        {shown === 'summary' && hasActions(node) && <ResourceActions appName={appName} appNamespace={appNamespace} node={node} />}
        {shown === 'live' && (
          <>
            <ErrorBanner error={live.error} title="Could not load the live manifest" />
            {live.loading && live.value === undefined && <p className="muted">Loading…</p>}
            {live.value !== undefined && (
              <pre className="code" aria-label="Live manifest (YAML)">
                {liveManifestYaml(live.value)}
              </pre>
            )}
          </>
        )}
        {shown === 'events' && (
          <>
            <ErrorBanner error={events.error} title="Could not load the events" />
            {events.loading && events.value === undefined && <p className="muted">Loading…</p>}
            {events.value !== undefined && <EventsTable items={events.value} />}
          </>
        )}
        {shown === 'logs' && <PodLogs appName={appName} appNamespace={appNamespace} node={node} />}
        {shown === 'diff' && (
          <>
            <ErrorBanner error={diffError} title="Could not load the diff" />
            {diffLoading && !diff && <p className="muted">Loading…</p>}
            {!diffLoading && !diff && !diffError && <p className="muted">gantry reports no diff for this resource.</p>}
            {diff && (diff.diff ? <DiffView diff={diff.diff} /> : <p className="muted">No differences: the cluster matches Git.</p>)}
          </>
        )}
      </div>
    </aside>
  );
}

function FactRow({ name, value }: { name: string; value: string }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{value}</dd>
    </>
  );
}

/** Kinds with Argo CD's built-in actions (gantry's internal/gitops/actions). */
const actionKinds = new Set(['apps/Deployment', 'apps/StatefulSet', 'apps/DaemonSet', 'batch/CronJob']);

function hasActions(node: ResourceNode) {
  return actionKinds.has((node.group ?? '') + '/' + node.kind);
}

/**
 * A resource's actions (restart, pause, resume, create-job), each run after a
 * confirmation, as Argo CD's Actions menu: the change is made outside Git, so
 * a sync neither shows nor reverts it.
 */
function ResourceActions({ appName, appNamespace, node }: { appName: string; appNamespace?: string; node: ResourceNode }) {
  const [round, setRound] = useState(0);
  const key = [appNamespace, appName, node.group, node.kind, node.namespace, node.name, round].join('|');
  const list = useLoad(true, key, (signal) => api.resourceActions(appName, appNamespace, node, signal));
  const [asked, setAsked] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (action: string) => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const r = await api.runResourceAction(appName, appNamespace, node, action);
      setDone(r.created ? `${action}: created job ${r.created}` : `${action}: done`);
      setAsked(null);
      setRound((n) => n + 1); // pause and resume swap which one is enabled
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="resource-actions" aria-label="Actions">
      <h3>Actions</h3>
      <ErrorBanner error={list.error} title="Could not list the actions" />
      <ErrorBanner error={error} title="The action failed" />
      {list.value && list.value.length === 0 && <p className="muted">No actions for this resource.</p>}
      {list.value && list.value.length > 0 && !asked && (
        <div className="btn-row">
          {list.value.map((a: ResourceAction) => (
            <button key={a.name} type="button" className="btn" disabled={a.disabled || busy} onClick={() => setAsked(a.name)}>
              {a.name}
            </button>
          ))}
        </div>
      )}
      {asked && (
        <div className="confirm" role="group" aria-label="Confirm the action">
          <p>
            Run <strong>{asked}</strong> on {node.kind} {node.name}? The change is made outside Git.
          </p>
          <div className="btn-row">
            <button type="button" className="btn btn-primary" disabled={busy} onClick={() => run(asked)}>
              Run {asked}
            </button>
            <button type="button" className="btn" disabled={busy} onClick={() => setAsked(null)}>
              Cancel
            </button>
          </div>
        </div>
      )}
      {done && (
        <p className="muted" role="status">
          {done}
        </p>
      )}
    </section>
  );
}
