import type { Condition, VirtualCluster } from '../api/types';
import { age, argoCDValue, connectCommand, creationSteps, isReady } from './vcluster';

const cond = (type: string, status: string, message = ''): Condition => ({ type, status, message, reason: 'R' });

function vc(phase: string, conditions: Condition[]): VirtualCluster {
  return {
    project: 'shop', name: 'dev', phase, conditions, labels: {}, sleeping: false, deleting: false, argoCD: true,
    created: '2026-01-01T00:00:00Z', endpoint: '',
  };
}

const states = (v?: VirtualCluster) => creationSteps(v).map((s) => `${s.key}:${s.state}`).join(' ');

describe('virtual cluster creation steps', () => {
  it('go from accepted to online, one at a time', () => {
    expect(states(undefined)).toBe('accepted:active pending:waiting deployed:waiting ready:waiting online:waiting');
    expect(states(vc('', []))).toBe('accepted:done pending:active deployed:waiting ready:waiting online:waiting');
    expect(states(vc('Pending', []))).toBe('accepted:done pending:active deployed:waiting ready:waiting online:waiting');
    expect(states(vc('Starting', [cond('Deployed', 'False', 'deploying')]))).toBe(
      'accepted:done pending:done deployed:active ready:waiting online:waiting',
    );
    expect(states(vc('Starting', [cond('Deployed', 'True'), cond('Ready', 'False', 'not ready')]))).toBe(
      'accepted:done pending:done deployed:done ready:active online:waiting',
    );
    const running = vc('Running', [cond('Deployed', 'True'), cond('Ready', 'True'), cond('Online', 'True')]);
    expect(states(running)).toBe('accepted:done pending:done deployed:done ready:done online:done');
    expect(isReady(running)).toBe(true);
    expect(isReady(vc('Starting', [cond('Ready', 'True')]))).toBe(false);
  });

  it('mark where it failed, with the message', () => {
    const failed = vc('Failed', [cond('Deployed', 'False', 'project shop allows 1 virtual cluster')]);
    const steps = creationSteps(failed);
    expect(steps.find((s) => s.key === 'deployed')).toMatchObject({ state: 'failed', detail: 'project shop allows 1 virtual cluster' });
  });

  it('ages, Argo CD choice, connect command', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(age('2025-12-31T23:59:30Z', now)).toBe('30s');
    expect(age('2025-12-31T23:50:00Z', now)).toBe('10m');
    expect(age('2025-12-31T20:00:00Z', now)).toBe('4h');
    expect(age('2025-12-25T00:00:00Z', now)).toBe('7d');
    expect([argoCDValue('yes'), argoCDValue('no'), argoCDValue('project')]).toEqual([true, false, undefined]);
    expect(connectCommand('shop', 'dev')).toBe('gantry vcluster connect dev --project shop --sso');
  });
});
