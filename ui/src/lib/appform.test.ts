import { applicationFromForm, emptyAppForm, validateAppForm } from './appform';

const clusters = [
  { name: 'in-cluster', server: 'https://kubernetes.default.svc' },
  { name: 'p-shop/dev', server: 'https://127.0.0.1:40123', project: 'shop', virtualCluster: 'dev' },
];

describe('new application form', () => {
  const form = { ...emptyAppForm, name: 'web', project: 'shop', repoURL: 'file:///tmp/repo', revision: 'main', path: 'guestbook', namespace: 'guestbook' };

  it('names a virtual cluster by destination.name and the host by its server', () => {
    const vc = applicationFromForm({ ...form, cluster: 'p-shop/dev' }, clusters);
    expect(vc).toEqual({
      metadata: { name: 'web', namespace: 'p-shop' },
      spec: {
        project: 'shop',
        source: { repoURL: 'file:///tmp/repo', targetRevision: 'main', path: 'guestbook' },
        destination: { name: 'p-shop/dev', namespace: 'guestbook' },
        syncPolicy: { syncOptions: ['CreateNamespace=true'] },
      },
    });
    const host = applicationFromForm({ ...form, cluster: 'in-cluster', automated: true, prune: true, selfHeal: false, createNamespace: false }, clusters);
    expect(host.spec.destination).toEqual({ server: 'https://kubernetes.default.svc', namespace: 'guestbook' });
    expect(host.spec.syncPolicy).toEqual({ automated: { prune: true, selfHeal: false } });
  });

  it('checks every field before sending', () => {
    expect(validateAppForm(form)).toEqual({});
    expect(validateAppForm({ ...form, name: 'Web', repoURL: '', revision: 'a b', path: '../x', namespace: 'No' })).toEqual({
      name: expect.stringMatching(/invalid application name "Web"/),
      repoURL: 'Enter the repository URL.',
      revision: 'A revision has no spaces.',
      path: expect.stringMatching(/may not leave/),
      namespace: expect.stringMatching(/invalid namespace "No"/),
    });
  });
});
