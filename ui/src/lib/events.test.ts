import { describe, expect, it } from 'vitest';
import { age, eventRows, lastSeen } from './events';

const now = Date.parse('2026-01-01T12:00:00Z');

describe('events', () => {
  it('prints ages as kubectl does', () => {
    expect(age(5_000)).toBe('5s');
    expect(age(12 * 60_000 + 3_000)).toBe('12m');
    expect(age(3 * 3600_000)).toBe('3h');
    expect(age(72 * 3600_000)).toBe('3d');
    expect(age(-1000)).toBe('0s');
  });

  it('finds when an event last happened, whatever field the emitter filled', () => {
    expect(lastSeen({ lastTimestamp: '2026-01-01T11:00:00Z', firstTimestamp: '2026-01-01T10:00:00Z' })).toBe(now - 3600_000);
    expect(lastSeen({ eventTime: '2026-01-01T11:59:00.000000Z' })).toBe(now - 60_000);
    expect(lastSeen({ metadata: { creationTimestamp: '2026-01-01T11:59:30Z' } })).toBe(now - 30_000);
    expect(lastSeen({})).toBe(0);
  });

  it('sorts rows newest first, with type, reason, message, age and count', () => {
    const rows = eventRows(
      [
        { metadata: { uid: 'a' }, type: 'Normal', reason: 'Scheduled', message: 'assigned', lastTimestamp: '2026-01-01T11:00:00Z', count: 1 },
        { metadata: { uid: 'b' }, type: 'Warning', reason: 'BackOff', message: 'restarting', lastTimestamp: '2026-01-01T11:58:00Z', count: 7 },
        { metadata: { uid: 'c' }, reason: 'Pulled', note: 'pulled image', eventTime: '2026-01-01T11:30:00Z', series: { count: 3 } },
      ],
      now,
    );
    expect(rows.map((r) => [r.type, r.reason, r.message, r.age, r.count, r.warning])).toEqual([
      ['Warning', 'BackOff', 'restarting', '2m', 7, true],
      ['Normal', 'Pulled', 'pulled image', '30m', 3, false],
      ['Normal', 'Scheduled', 'assigned', '1h', 1, false],
    ]);
  });
});
