import { argoConditionWords, argoFromForm, argoServerWords, formFromArgo, validateArgo } from './argocd';

describe('Argo CD settings', () => {
  it('default to the host, namespace argocd, nothing on', () => {
    const f = formFromArgo(undefined);
    expect(f).toMatchObject({ enabled: false, cluster: '', namespace: 'argocd', ssoEnabled: false, appProject: false, importVirtualClusters: true });
    expect(f.roles).toEqual({ 'project-admin': [], 'project-member': [], 'project-viewer': [] });
  });

  it('send the form as spec.argoCD, keeping what the form does not show', () => {
    const prev = { enabled: false, direct: true, project: { roles: [{ name: 'ci', policies: ['p, x'] }] } };
    const f = formFromArgo(prev);
    f.enabled = true;
    f.ssoEnabled = true;
    f.ssoHost = ' https://argocd.example.com ';
    f.roles['project-admin'] = ['role:admin'];
    f.roles['project-viewer'] = ['role:readonly', 'role:auditor'];
    f.appProject = true;
    f.sourceRepos = 'https://github.com/org/*\n\n file:///tmp/x ';
    expect(argoFromForm(f, prev)).toEqual({
      enabled: true,
      direct: true,
      importVirtualClusters: true,
      sso: {
        enabled: true,
        host: 'https://argocd.example.com',
        assignedRoles: [
          { projectRole: 'project-admin', role: 'role:admin' },
          { projectRole: 'project-viewer', role: 'role:readonly' },
          { projectRole: 'project-viewer', role: 'role:auditor' },
        ],
      },
      project: { enabled: true, sourceRepos: ['https://github.com/org/*', 'file:///tmp/x'], roles: [{ name: 'ci', policies: ['p, x'] }] },
    });
  });

  it('keep unchanged role assignments as they were (one for every member stays one)', () => {
    const prev = { enabled: true, sso: { enabled: true, host: 'https://a.example', assignedRoles: [{ role: 'role:readonly' }] } };
    const f = formFromArgo(prev);
    expect(f.roles['project-member']).toEqual(['role:readonly']);
    f.namespace = 'argo';
    expect(argoFromForm(f, prev).sso?.assignedRoles).toEqual([{ role: 'role:readonly' }]);
    expect(argoFromForm(f, prev).namespace).toBe('argo');
  });

  it('check before sending', () => {
    const f = formFromArgo(undefined);
    f.enabled = true;
    f.ssoEnabled = true;
    f.namespace = 'Argo CD';
    f.roles['project-member'] = ['role admin'];
    expect(validateArgo(f)).toEqual({
      namespace: expect.stringMatching(/not a namespace name/),
      ssoHost: expect.stringMatching(/Enter a URL/),
      roles: expect.stringMatching(/not an Argo CD role name/),
    });
  });

  it('say the condition in words', () => {
    expect(argoConditionWords([], false).title).toBe('Not enabled');
    expect(argoConditionWords([], true).title).toMatch(/Waiting/);
    expect(argoConditionWords([{ type: 'ArgoIntegrationSynced', status: 'True', reason: 'Synced', message: '1 cluster' }], true)).toEqual({
      tone: 'ok',
      title: 'Synced: Argo CD has what this project needs',
      message: '1 cluster',
    });
    const w = argoConditionWords([{ type: 'ArgoIntegrationSynced', status: 'False', reason: 'ArgoCDNamespaceMissing', message: 'namespace argocd does not exist' }], true);
    expect(w).toMatchObject({ tone: 'bad', title: "Argo CD's namespace does not exist there", message: 'namespace argocd does not exist' });
  });

  it('say whether argocd-server must be restarted, and how', () => {
    expect(argoServerWords([{ type: 'ArgoIntegrationSynced', status: 'True', reason: 'Synced', message: '' }])).toBeUndefined();
    const msg = 'run: kubectl -n argocd rollout restart deployment argocd-server';
    expect(argoServerWords([{ type: 'ArgoCDServerUpToDate', status: 'False', reason: 'RestartDisabled', message: msg }])).toEqual({
      tone: 'bad',
      title: 'argocd-server must be restarted (gantry was told not to)',
      message: msg,
    });
    expect(argoServerWords([{ type: 'ArgoCDServerUpToDate', status: 'True', reason: 'ArgoCDServerRestarted', message: 'at 12:00' }])?.tone).toBe('ok');
  });
});
