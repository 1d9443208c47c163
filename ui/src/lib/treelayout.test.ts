import { guestbookTree } from '../test/fixtures';
import { defaultLayout, layoutTree, ROOT_ID } from './treelayout';

describe('resource tree layout', () => {
  const l = layoutTree(guestbookTree());
  const at = (name: string) => l.nodes.find((n) => (n.node?.name ?? ROOT_ID) === name)!;

  it('places Application → managed → ReplicaSet → Pods in columns', () => {
    expect(at(ROOT_ID).depth).toBe(0);
    expect(at('web-7d9').depth).toBe(2);
    expect(at('web-7d9-a').depth).toBe(3);
    expect(at('web-7d9-b').depth).toBe(3);
    expect(at('web-abc').depth).toBe(2);
    expect(at('settings').depth).toBe(1);
    expect(l.nodes.filter((n) => n.depth === 1).map((n) => n.node!.kind)).toEqual(['ConfigMap', 'Service', 'Deployment']);
  });
  it('draws one edge per parent', () => {
    const e = l.edges.map((x) => `${x.from}>${x.to}`);
    expect(e).toContain('d1>rs1');
    expect(e).toContain('rs1>p1');
    expect(e).toContain('rs1>p2');
    expect(e).toContain('s1>e1');
    expect(e).toContain(`${ROOT_ID}>d1`);
    expect(l.edges).toHaveLength(7);
  });
  it('centres parents on their children and never overlaps nodes', () => {
    const rs = at('web-7d9');
    expect(rs.row).toBe((at('web-7d9-a').row + at('web-7d9-b').row) / 2);
    const seen = new Set<string>();
    for (const n of l.nodes) {
      const k = `${n.x},${n.y}`;
      expect(seen.has(k)).toBe(false);
      seen.add(k);
    }
    expect(l.width).toBe(4 * defaultLayout.nodeWidth + 3 * defaultLayout.colGap);
  });
  it('survives an ownership cycle and unknown parents', () => {
    const cyc = layoutTree([
      { kind: 'A', name: 'a', uid: 'a', parentRefs: [{ kind: 'B', name: 'b', uid: 'b' }] },
      { kind: 'B', name: 'b', uid: 'b', parentRefs: [{ kind: 'A', name: 'a', uid: 'a' }] },
      { kind: 'C', name: 'c', uid: 'c', parentRefs: [{ kind: 'Gone', name: 'x', uid: 'zz' }] },
    ]);
    expect(cyc.nodes).toHaveLength(4);
    expect(cyc.nodes.find((n) => n.id === 'c')!.depth).toBe(1);
  });
  it('matches parents without uids by group, kind, namespace and name', () => {
    const t = layoutTree([
      { group: 'apps', kind: 'Deployment', namespace: 'n', name: 'd' },
      { group: 'apps', kind: 'ReplicaSet', namespace: 'n', name: 'r', parentRefs: [{ group: 'apps', kind: 'Deployment', namespace: 'n', name: 'd' }] },
    ]);
    expect(t.nodes.find((n) => n.node?.name === 'r')!.depth).toBe(2);
  });
  it('lays out an empty tree', () => {
    expect(layoutTree([]).nodes).toHaveLength(1);
  });
});
