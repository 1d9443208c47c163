import { useEffect, useRef, useState } from 'react';
import type { ResourceDiff, ResourceNode } from '../api/types';
import { HealthBadge } from '../components/Badges';
import { ErrorBanner } from '../components/ErrorBanner';
import { Icon } from '../components/Icon';
import { manifestYaml } from '../lib/yaml';

type Tab = 'summary' | 'live' | 'diff';

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

/**
 * The side panel of a resource: facts, its live manifest and its diff with Git.
 * Only resources the app manages have a manifest and a diff (managed-resources);
 * gantry has no API for a child's live object (Argo CD's /resource) yet.
 */
export function ResourcePanel({
  node,
  diff,
  diffError,
  diffLoading,
  onClose,
}: {
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
    ['diff', 'Diff'],
  ];
  const noManifest = !managed
    ? `${node.kind} ${node.name} is not managed by the application (it belongs to ${node.parentRefs!
        .map((p) => p.kind + ' ' + p.name)
        .join(', ')}): gantry shows manifests and diffs of managed resources only.`
    : null;
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
            aria-selected={tab === t}
            aria-controls={`rpanel-${t}`}
            tabIndex={tab === t ? 0 : -1}
            className={'tab' + (tab === t ? ' active' : '')}
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
      <div className="panel-body" role="tabpanel" id={`rpanel-${tab}`} aria-labelledby={`rtab-${tab}`}>
        {tab === 'summary' && (
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
            {managed && diff && <FactRow name="In sync with Git" value={diff.modified ? 'no' : 'yes'} />}
          </dl>
        )}
        {tab !== 'summary' && noManifest && <p className="muted">{noManifest}</p>}
        {tab !== 'summary' && !noManifest && (
          <>
            <ErrorBanner error={diffError} title="Could not load the manifests" />
            {diffLoading && !diff && <p className="muted">Loading…</p>}
            {!diffLoading && !diff && !diffError && <p className="muted">gantry reports no manifest for this resource.</p>}
            {diff && tab === 'live' &&
              (diff.liveState && diff.liveState !== 'null' ? (
                <pre className="code" aria-label="Live manifest (YAML)">{manifestYaml(diff.liveState)}</pre>
              ) : (
                <p className="muted">The resource does not exist in the cluster yet.</p>
              ))}
            {diff && tab === 'diff' &&
              (diff.diff ? <DiffView diff={diff.diff} /> : <p className="muted">No differences: the cluster matches Git.</p>)}
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
