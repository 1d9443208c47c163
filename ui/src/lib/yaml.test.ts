import { liveManifestYaml, manifestYaml, toYaml } from './yaml';

describe('toYaml', () => {
  it('writes manifests as kubectl does', () => {
    const y = toYaml({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', labels: { app: 'web' }, annotations: {} },
      spec: {
        replicas: 2,
        template: { spec: { containers: [{ name: 'nginx', image: 'nginx:1.27', ports: [{ containerPort: 80 }], args: [] }] } },
      },
    });
    expect(y).toBe(
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        '  name: web',
        '  labels:',
        '    app: web',
        '  annotations: {}',
        'spec:',
        '  replicas: 2',
        '  template:',
        '    spec:',
        '      containers:',
        '      - name: nginx',
        '        image: nginx:1.27',
        '        ports:',
        '        - containerPort: 80',
        '        args: []',
        '',
      ].join('\n'),
    );
  });
  it('quotes what YAML would read otherwise', () => {
    expect(toYaml({ a: 'true', b: '1.0', c: '', d: 'x: y', e: null, f: 'no', g: '#x' })).toBe(
      'a: "true"\nb: "1.0"\nc: ""\nd: "x: y"\ne: null\nf: "no"\ng: "#x"\n',
    );
  });
  it('writes multi-line strings as blocks', () => {
    expect(toYaml({ data: { 'a.conf': 'x = 1\ny = 2\n' } })).toBe('data:\n  a.conf: |\n    x = 1\n    y = 2\n');
  });
  it('passes non-JSON through', () => {
    expect(manifestYaml('not json')).toBe('not json');
    expect(manifestYaml(undefined)).toBe('');
  });
});

describe('liveManifestYaml', () => {
  it('leaves managedFields out', () => {
    const y = liveManifestYaml(
      JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', managedFields: [{ manager: 'kubectl' }] } }),
    );
    expect(y).toContain('kind: Pod');
    expect(y).toContain('name: p');
    expect(y).not.toContain('managedFields');
  });
  it('shows what is not JSON as it is', () => {
    expect(liveManifestYaml('not json')).toBe('not json');
    expect(liveManifestYaml(undefined)).toBe('');
  });
});
