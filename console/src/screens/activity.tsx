// "View all activity" of a flow or one action: past, current (retrying: next attempt time) and
// future (waiting in a delay) records, newest first, filtered and paged by the server.

import { useState } from 'preact/hooks';
import { api, type ActivityRecord } from '../api';
import { ErrorBox, Pager, Status, Time, useLoad, usePager } from '../ui';

const STATUSES = [
  'entered',
  'skipped',
  'held',
  'waiting',
  'scheduled_retry',
  'attempted',
  'delivered',
  'failed',
  'dead_lettered',
  'released',
  'discarded',
];

const toIso = (local: string) => (local ? new Date(local).toISOString() : undefined);

function Detail({ r }: { r: ActivityRecord }) {
  const bits: string[] = [];
  if (r.attempt !== undefined) bits.push(`attempt ${r.attempt}`);
  if (r.http_status !== undefined) bits.push(`HTTP ${r.http_status}`);
  if (r.duration_ms !== undefined) bits.push(`${Math.round(r.duration_ms)} ms`);
  if (r.reason) bits.push(r.reason);
  return (
    <>
      <div>{bits.join(' · ')}</div>
      {r.due_at && (
        <div>
          {r.status === 'scheduled_retry' ? 'next attempt' : 'resumes'} <Time iso={r.due_at} />
        </div>
      )}
      {r.error && <div class="error-text">{r.error}</div>}
      {r.response_excerpt && <pre class="excerpt">{r.response_excerpt}</pre>}
    </>
  );
}

export function ActivityPanel({ flowId, actionId }: { flowId: string; actionId?: string }) {
  const [status, setStatus] = useState('');
  const [profile, setProfile] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const pager = usePager();
  const rows = useLoad(
    () =>
      api.activity({
        flow_id: flowId,
        action_id: actionId,
        status,
        profile,
        since: toIso(since),
        until: toIso(until),
        cursor: pager.cursor,
        limit: 50,
      }),
    [flowId, actionId, status, profile, since, until, pager.cursor],
  );
  const change = (set: (v: string) => void) => (e: Event) => {
    set((e.target as HTMLInputElement).value);
    pager.reset();
  };
  return (
    <section aria-label="Activity">
      <h2>Activity{actionId ? ` of ${actionId}` : ''}</h2>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select value={status} onChange={change(setStatus)}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace(/_/g, ' ')}
              </option>
            ))}
          </select>
        </label>
        <label>
          Profile id or email
          <input value={profile} onChange={change(setProfile)} />
        </label>
        <label>
          Since
          <input type="datetime-local" value={since} onChange={change(setSince)} />
        </label>
        <label>
          Until
          <input type="datetime-local" value={until} onChange={change(setUntil)} />
        </label>
        <button type="button" onClick={rows.reload}>
          Refresh
        </button>
      </form>
      <ErrorBox error={rows.error} />
      <table aria-busy={rows.loading} data-testid="activity">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Status</th>
            <th scope="col">Action</th>
            <th scope="col">Profile</th>
            <th scope="col">Webhook</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {rows.data?.items.map((r) => (
            <tr key={r.id}>
              <td>
                <Time iso={r.time} />
              </td>
              <td>
                <Status value={r.status} />
              </td>
              <td>{r.action_id ?? '—'}</td>
              <td>{r.email ?? r.profile_id ?? '—'}</td>
              <td class="mono">{r.job_id ?? '—'}</td>
              <td>
                <Detail r={r} />
              </td>
            </tr>
          ))}
          {rows.data?.items.length === 0 && (
            <tr>
              <td colSpan={6}>No activity matches.</td>
            </tr>
          )}
        </tbody>
      </table>
      <Pager pager={pager} nextCursor={rows.data?.next_cursor} label="Activity" />
    </section>
  );
}
