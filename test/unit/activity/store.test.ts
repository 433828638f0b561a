import { listQuery } from '../../../src/activity/sql';
import { checkFilter, decodeCursor, encodeCursor } from '../../../src/activity/store';
import { ActivityQueryError } from '../../../src/errors';

describe('activity filters and cursors', () => {
  it('round-trips a cursor and refuses one it did not make', () => {
    const c = { timeMs: 1_764_583_200_123, id: 'msg_1/0001/1-attempted' };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    expect(() => decodeCursor('bm9wZQ')).toThrow(ActivityQueryError);
  });

  it('matches an email as given, as the derived profile key, and through profile ids', () => {
    const f = checkFilter({ profile: 'Sam@Example.com' });
    expect(f.profileIds).toEqual(['Sam@Example.com', 'email:sam@example.com']);
    expect(f.email).toBe('Sam@Example.com');
    expect(checkFilter({ profile: 'p-1' })).toEqual({ profileIds: ['p-1'], limit: 100 });
  });

  it('builds one keyset query: filters, then (time, id) below the cursor, newest first', () => {
    const f = checkFilter({
      flow_id: 'f',
      status: 'delivered',
      cursor: encodeCursor({ timeMs: 5, id: 'x' }),
      limit: 10,
    });
    expect(listQuery('postgres', f)).toEqual({
      text: expect.stringMatching(
        /WHERE flow_id = \$1 AND status = \$2 AND \(time_ms, id\) < \(\$3, \$4\) ORDER BY time_ms DESC, id DESC LIMIT \$5$/,
      ),
      params: ['f', 'delivered', 5, 'x', 11],
    });
    expect(listQuery('sqlite', checkFilter({})).text).toMatch(/FROM activity ORDER BY/);
  });

  it('ignores empty query parameters (as an HTTP query string gives them)', () => {
    expect(checkFilter({ flow_id: '', cursor: '', since: '', profile: ' ' })).toEqual({
      limit: 100,
    });
  });
});
