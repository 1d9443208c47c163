import { useMemo } from 'react';
import type { Application, ResourceNode } from '../api/types';
import { Icon } from '../components/Icon';
import { healthView, syncView } from '../lib/status';
import { defaultLayout, kindShort, layoutTree, refKey, ROOT_ID } from '../lib/treelayout';

const O = defaultLayout;

function edgePath(x1: number, y1: number, x2: number, y2: number) {
  const mx = (x1 + x2) / 2;
  return `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`;
}

/** The key of a node in ?resource= (group/kind/namespace/name). */
export const resourceParam = refKey;

export function ResourceTree({
  app,
  nodes,
  selected,
  onSelect,
}: {
  app: Application;
  nodes: ResourceNode[];
  selected?: string;
  onSelect: (n: ResourceNode) => void;
}) {
  const layout = useMemo(() => layoutTree(nodes), [nodes]);
  const pos = new Map(layout.nodes.map((n) => [n.id, n]));
  const syncOf = useMemo(() => {
    const m = new Map<string, string | undefined>();
    for (const r of app.status?.resources ?? []) {
      m.set(refKey({ group: r.group, kind: r.kind ?? '', namespace: r.namespace, name: r.name ?? '' }), r.status);
    }
    return m;
  }, [app]);
  const pad = 8;
  return (
    <div className="tree-scroll" role="region" aria-label="Resource tree" tabIndex={0}>
      <div className="tree" style={{ width: layout.width + 2 * pad, height: layout.height + 2 * pad }}>
        <svg className="tree-edges" width={layout.width + 2 * pad} height={layout.height + 2 * pad} aria-hidden="true">
          {layout.edges.map((e) => {
            const a = pos.get(e.from)!;
            const b = pos.get(e.to)!;
            return (
              <path
                key={e.from + '>' + e.to}
                d={edgePath(a.x + O.nodeWidth + pad, a.y + O.nodeHeight / 2 + pad, b.x + pad, b.y + O.nodeHeight / 2 + pad)}
              />
            );
          })}
        </svg>
        <ul className="tree-nodes" aria-label={`${layout.nodes.length - 1} resources`}>
          {layout.nodes.map((ln) => {
            const style = { left: ln.x + pad, top: ln.y + pad, width: O.nodeWidth, height: O.nodeHeight };
            if (ln.id === ROOT_ID) {
              const h = healthView(app.status?.health?.status);
              return (
                <li key={ln.id} className={`tree-node tree-root tone-border-${h.tone}`} style={style}>
                  <span className="node-kind">app</span>
                  <span className="node-text">
                    <span className="node-name">{app.metadata.name}</span>
                    <span className="node-sub">Application</span>
                  </span>
                  <span className={`tone-${h.tone}`}>
                    <Icon name={h.icon} title={`Health: ${h.label}`} />
                  </span>
                </li>
              );
            }
            const n = ln.node!;
            const key = refKey(n);
            const h = n.health ? healthView(n.health.status) : null;
            const sync = syncOf.get(key);
            const s = sync ? syncView(sync) : null;
            const label = `${n.kind} ${n.name}` + (h ? `, ${h.label}` : '') + (s ? `, ${s.label}` : '');
            return (
              <li key={ln.id} style={style} className="tree-li">
                <button
                  type="button"
                  className={`tree-node tone-border-${h?.tone ?? 'muted'}` + (selected === key ? ' selected' : '')}
                  onClick={() => onSelect(n)}
                  aria-label={label}
                  aria-pressed={selected === key}
                  data-kind={n.kind}
                  data-name={n.name}
                  data-health={h?.label ?? ''}
                >
                  <span className="node-kind" aria-hidden="true">
                    {kindShort(n.kind)}
                  </span>
                  <span className="node-text">
                    <span className="node-name" title={n.name}>
                      {n.name}
                    </span>
                    <span className="node-sub">
                      {n.kind}
                      {n.info?.length ? ' · ' + n.info.map((i) => i.value).join(' · ') : ''}
                    </span>
                  </span>
                  <span className="node-icons" aria-hidden="true">
                    {h && (
                      <span className={`tone-${h.tone}`}>
                        <Icon name={h.icon} title={`Health: ${h.label}`} />
                      </span>
                    )}
                    {s && (
                      <span className={`tone-${s.tone}`}>
                        <Icon name={s.icon} title={`Sync: ${s.label}`} />
                      </span>
                    )}
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      </div>
    </div>
  );
}
