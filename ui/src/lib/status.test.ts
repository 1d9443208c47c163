import { healthCode, healthView, operationView, syncCode, syncView } from './status';

describe('status badges', () => {
  it('gives each health its colour and icon', () => {
    expect(healthView('Healthy')).toMatchObject({ tone: 'ok', icon: 'heart' });
    expect(healthView('Progressing')).toMatchObject({ tone: 'info', icon: 'spinner' });
    expect(healthView('Degraded')).toMatchObject({ tone: 'bad', icon: 'heart-broken' });
    expect(healthView('Suspended')).toMatchObject({ tone: 'paused', icon: 'pause' });
    expect(healthView('Missing')).toMatchObject({ tone: 'warn', icon: 'ghost' });
  });
  it('gives each sync status its colour and icon', () => {
    expect(syncView('Synced')).toMatchObject({ tone: 'ok', icon: 'check' });
    expect(syncView('OutOfSync')).toMatchObject({ tone: 'warn', icon: 'arrow-up' });
  });
  it('shows missing or unknown values as Unknown', () => {
    for (const v of [undefined, null, '', 'Bogus', 'toString', '__proto__']) {
      expect(healthView(v as string).label).toBe('Unknown');
      expect(syncView(v as string).label).toBe('Unknown');
      expect(healthCode(v as string)).toBe('Unknown');
      expect(syncCode(v as string)).toBe('Unknown');
    }
  });
  it('shows operations', () => {
    expect(operationView(undefined)).toBeNull();
    expect(operationView('Running')).toMatchObject({ label: 'Syncing', icon: 'spinner' });
    expect(operationView('Failed')).toMatchObject({ tone: 'bad' });
    expect(operationView('Weird')).toMatchObject({ label: 'Weird', tone: 'muted' });
  });
});
