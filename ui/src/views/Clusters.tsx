import { useCallback, useEffect, useState } from 'react';
import { api } from '../api/client';
import type { Cluster } from '../api/types';
import { ConnectionBadge } from '../components/Badges';
import { ErrorBanner } from '../components/ErrorBanner';
import { ConfirmDeleteDialog } from '../components/Form';
import { Icon } from '../components/Icon';
import { Link } from '../router';
import { vcHref } from './VirtualClusters';

/** The host and virtual clusters are gantry's own: only clusters added with `gantry cluster add` can be removed here. */
export const removable = (c: Cluster) => c.name !== 'in-cluster' && !c.virtualCluster;

export function ClusterListView({
  clusters,
  error,
  loading,
  onChanged,
}: {
  clusters: Cluster[] | undefined;
  error?: unknown;
  loading?: boolean;
  onChanged?: () => void;
}) {
  const [removing, setRemoving] = useState<Cluster | null>(null);
  return (
    <section aria-labelledby="page-title">
      <div className="page-head">
        <h1 id="page-title" tabIndex={-1}>
          Clusters
        </h1>
      </div>
      <p className="muted">
        Where applications deploy: the host, the virtual clusters and the clusters added with{' '}
        <code>gantry cluster add CONTEXT [--project P]</code>. Connection states are checked every 30 seconds.
      </p>
      <ErrorBanner error={error} title="Could not load clusters" />
      {loading && !clusters ? (
        <p className="muted" role="status">
          Loading clusters…
        </p>
      ) : !clusters?.length ? (
        <div className="empty">
          <h2>No clusters you may see</h2>
          <p>
            Add one with <code>gantry cluster add CONTEXT</code>.
          </p>
        </div>
      ) : (
        <div className="table-wrap">
          <table className="apps-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Server</th>
                <th scope="col">Project</th>
                <th scope="col">Version</th>
                <th scope="col">Connection</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {clusters.map((c) => {
                const state = c.info?.connectionState;
                return (
                  <tr key={c.name} data-cluster={c.name}>
                    <th scope="row">
                      {c.virtualCluster && c.project ? (
                        <Link to={vcHref({ project: c.project, name: c.virtualCluster })} className="app-link">
                          {c.name}
                        </Link>
                      ) : (
                        c.name
                      )}
                      {c.virtualCluster && <div className="subtle">virtual cluster</div>}
                      {c.name === 'in-cluster' && <div className="subtle">the host</div>}
                    </th>
                    <td>
                      <code>{c.server}</code>
                    </td>
                    <td>{c.project ?? <span className="subtle">all (as allowed)</span>}</td>
                    <td>{c.info?.serverVersion}</td>
                    <td>
                      <ConnectionBadge status={state?.status} message={state?.message} />
                      {state?.status === 'Failed' && state.message && <div className="subtle condition-message">{state.message}</div>}
                    </td>
                    <td>
                      {removable(c) && (
                        <button
                          type="button"
                          className="btn btn-small btn-danger-outline"
                          aria-label={`Remove cluster ${c.name}`}
                          onClick={() => setRemoving(c)}
                        >
                          <Icon name="trash" /> Remove
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {removing && (
        <ConfirmDeleteDialog
          what="cluster"
          name={removing.name}
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await api.deleteCluster(removing.name);
            setRemoving(null);
            onChanged?.();
          }}
        >
          <p>
            gantry stops deploying to <code>{removing.server}</code>; what runs there stays. Its ServiceAccount stays in the
            cluster: <code>gantry cluster rm {removing.name} --remove-manager</code> removes it too.
          </p>
        </ConfirmDeleteDialog>
      )}
    </section>
  );
}

/** How often the page asks again: the server probes each cluster at most every 30 seconds. */
const REFRESH_MS = 30_000;

export function ClusterListPage() {
  const [clusters, setClusters] = useState<Cluster[]>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const load = useCallback((signal?: AbortSignal) => {
    api
      .listClusters(signal)
      .then((cs) => {
        setClusters(cs);
        setError(undefined);
      })
      .catch((e) => !signal?.aborted && setError(e))
      .finally(() => !signal?.aborted && setLoading(false));
  }, []);
  useEffect(() => {
    document.title = 'Clusters · gantry';
    const ctrl = new AbortController();
    load(ctrl.signal);
    const timer = setInterval(() => load(ctrl.signal), REFRESH_MS);
    return () => {
      clearInterval(timer);
      ctrl.abort();
    };
  }, [load]);
  return <ClusterListView clusters={clusters} error={error} loading={loading} onChanged={() => load()} />;
}
