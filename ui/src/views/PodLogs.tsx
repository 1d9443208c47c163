import { useEffect, useRef, useState } from 'react';
import { api } from '../api/client';
import type { LogEntry, ResourceNode } from '../api/types';
import { ErrorBanner } from '../components/ErrorBanner';

/** Lines kept on screen: the newest; older ones are dropped as new ones come. */
export const maxLogLines = 5000;

/** The containers of a pod's live manifest (JSON text), init containers last. */
export function podContainers(manifest: string): string[] {
  try {
    const pod = JSON.parse(manifest) as { spec?: { containers?: { name: string }[]; initContainers?: { name: string }[] } };
    return [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name);
  } catch {
    return [];
  }
}

/**
 * A pod's log (the app's /logs): a container picker (the pod's containers,
 * from its live manifest), follow (new lines as they come, on by default)
 * and the previous, terminated instance of the container (after a restart).
 */
export function PodLogs({ appName, appNamespace, node }: { appName: string; appNamespace?: string; node: ResourceNode }) {
  const [containers, setContainers] = useState<string[]>([]);
  const [container, setContainer] = useState('');
  const [follow, setFollow] = useState(true);
  const [previous, setPrevious] = useState(false);
  const [lines, setLines] = useState<LogEntry[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [state, setState] = useState<'loading' | 'streaming' | 'ended'>('loading');
  const bottom = useRef<HTMLSpanElement>(null);

  useEffect(() => {
    const ctrl = new AbortController();
    api.resource(appName, appNamespace, node, ctrl.signal).then(
      (m) => {
        const cs = podContainers(m);
        setContainers(cs);
        setContainer((c) => (c && cs.includes(c) ? c : (cs[0] ?? '')));
      },
      (e) => !ctrl.signal.aborted && setError(e),
    );
    return () => ctrl.abort();
  }, [appName, appNamespace, node.namespace, node.name, node.uid]);

  useEffect(() => {
    if (!container) return;
    const ctrl = new AbortController();
    setLines([]);
    setError(null);
    setState('loading');
    let pending: LogEntry[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Lines come in bursts: render them together, not one render per line.
    const flush = () => {
      timer = undefined;
      const batch = pending;
      pending = [];
      setLines((ls) => {
        const next = ls.concat(batch);
        return next.length > maxLogLines ? next.slice(next.length - maxLogLines) : next;
      });
    };
    api
      .podLogs(
        appName,
        appNamespace,
        { podName: node.name, namespace: node.namespace, container, follow, previous, tailLines: 1000 },
        (e) => {
          setState('streaming');
          pending.push(e);
          timer ??= setTimeout(flush, 50);
        },
        ctrl.signal,
      )
      .then(
        () => {
          if (ctrl.signal.aborted) return;
          if (timer) clearTimeout(timer);
          flush();
          setState('ended');
        },
        (e) => {
          if (ctrl.signal.aborted) return;
          setError(e);
          setState('ended');
        },
      );
    return () => {
      ctrl.abort();
      if (timer) clearTimeout(timer);
    };
  }, [appName, appNamespace, node.namespace, node.name, container, follow, previous]);

  useEffect(() => {
    if (follow) bottom.current?.scrollIntoView?.({ block: 'end' });
  }, [lines, follow]);

  return (
    <section className="pod-logs" aria-label="Logs">
      <div className="btn-row logs-controls">
        <label>
          Container{' '}
          <select aria-label="Container" value={container} onChange={(e) => setContainer(e.target.value)} disabled={containers.length < 2}>
            {containers.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <label>
          <input type="checkbox" checked={previous} onChange={(e) => setPrevious(e.target.checked)} /> Previous instance
        </label>
      </div>
      <ErrorBanner error={error} title="Could not read the logs" />
      {state === 'loading' && !error && <p className="muted">Loading…</p>}
      {state !== 'loading' && lines.length === 0 && !error && <p className="muted">No log lines{previous ? ' from a previous instance' : ''}.</p>}
      {lines.length > 0 && (
        <pre className="code logs" aria-label="Log lines">
          {lines.map((l) => l.content).join('\n')}
          <span ref={bottom} />
        </pre>
      )}
      {follow && state === 'streaming' && (
        <p className="subtle" role="status">
          Following: new lines appear as the container writes them.
        </p>
      )}
    </section>
  );
}
