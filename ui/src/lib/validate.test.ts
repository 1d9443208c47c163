import { durationError, parseLabels, projectNameError, quotaError, repoURLError, urlError } from './validate';

describe('form checks', () => {
  it('project names: p-<name> must be a DNS label, as the server says', () => {
    expect(projectNameError('shop')).toBeUndefined();
    expect(projectNameError('')).toBe('Enter a name.');
    expect(projectNameError('Shop')).toMatch(/^project name "Shop": must consist of lower case/);
    expect(projectNameError('a'.repeat(61))).toBeUndefined();
    expect(projectNameError('a'.repeat(62))).toMatch(/no more than 63 characters/);
    expect(projectNameError('shop-')).toMatch(/must start and end/);
  });

  it('labels as key=value lists', () => {
    expect(parseLabels('env=dev, team=shop\nexample.com/tier=web')).toEqual({
      labels: { env: 'dev', team: 'shop', 'example.com/tier': 'web' },
    });
    expect(parseLabels('').labels).toEqual({});
    expect(parseLabels('env').error).toMatch(/not key=value/);
    expect(parseLabels('env=dev,env=prod').error).toMatch(/twice/);
    expect(parseLabels('-x=1').error).toMatch(/label key "-x"/);
    expect(parseLabels('x=a b').error).toMatch(/value "a b"/);
  });

  it('durations, quotas, URLs', () => {
    expect(durationError('15m')).toBeUndefined();
    expect(durationError('1h30m')).toBeUndefined();
    expect(durationError('')).toBeUndefined();
    expect(durationError('15 minutes')).toMatch(/not a duration/);
    expect(quotaError('3')).toBeUndefined();
    expect(quotaError('')).toBeUndefined();
    expect(quotaError('-1')).toMatch(/whole number/);
    expect(urlError('https://argocd.example.com')).toBeUndefined();
    expect(urlError('argocd.example.com')).toMatch(/not a URL/);
    expect(repoURLError('file:///tmp/repo')).toBeUndefined();
    expect(repoURLError('git@github.com:org/repo.git')).toBeUndefined();
    expect(repoURLError('repo')).toMatch(/Use an https/);
  });
});
