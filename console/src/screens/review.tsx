// Webhooks held by manual flows or actions: release (sent, same webhook-id) or discard, one or
// many at once.

import { useState } from 'preact/hooks';
import { api } from '../api';
import { useSession } from '../session';
import { ErrorBox, Pager, Time, errorText, useLoad, usePager } from '../ui';

export function ReviewPanel({ flowId }: { flowId?: string }) {
  const { me } = useSession();
  const pager = usePager();
  const held = useLoad(
    () => api.review({ flow_id: flowId, cursor: pager.cursor, limit: 50 }),
    [flowId, pager.cursor],
  );
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();
  const items = held.data?.items ?? [];
  const decide = async (ids: string[], decision: 'release' | 'discard') => {
    setError(undefined);
    const failed: string[] = [];
    for (const id of ids) {
      try {
        await api.decide(id, decision);
      } catch (e) {
        failed.push(`${id}: ${errorText(e)}`);
      }
    }
    const done = ids.length - failed.length;
    setMessage(`${decision === 'release' ? 'Released' : 'Discarded'} ${done} of ${ids.length}.`);
    if (failed.length > 0) setError(failed.join('; '));
    setSelected(new Set());
    held.reload();
  };
  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  const all = items.length > 0 && items.every((i) => selected.has(i.id));
  return (
    <section aria-label="Review queue">
      <div class="section-head">
        <h2>Review queue</h2>
        {me.may.operate && (
          <div class="toolbar" role="group" aria-label="Decide selected">
            <button
              class="primary"
              disabled={selected.size === 0}
              onClick={() => void decide([...selected], 'release')}
            >
              Release selected ({selected.size})
            </button>
            <button
              class="danger"
              disabled={selected.size === 0}
              onClick={() => void decide([...selected], 'discard')}
            >
              Discard selected ({selected.size})
            </button>
          </div>
        )}
        <button onClick={held.reload}>Refresh</button>
      </div>
      {message && (
        <p role="status" class="ok">
          {message}
        </p>
      )}
      <ErrorBox error={error ?? held.error} />
      <table aria-busy={held.loading} data-testid="review">
        <thead>
          <tr>
            {me.may.operate && (
              <th scope="col">
                <input
                  type="checkbox"
                  aria-label="Select all on this page"
                  checked={all}
                  onChange={() => setSelected(all ? new Set() : new Set(items.map((i) => i.id)))}
                />
              </th>
            )}
            <th scope="col">Held at</th>
            <th scope="col">Flow</th>
            <th scope="col">Action</th>
            <th scope="col">Profile</th>
            <th scope="col">Webhook</th>
            {me.may.operate && <th scope="col">Decide</th>}
          </tr>
        </thead>
        <tbody>
          {items.map((i) => (
            <tr key={i.id}>
              {me.may.operate && (
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select ${i.id}`}
                    checked={selected.has(i.id)}
                    onChange={() => toggle(i.id)}
                  />
                </td>
              )}
              <td>
                <Time iso={i.held_at} />
              </td>
              <td>{i.flow_id}</td>
              <td>{i.action_id}</td>
              <td>{i.profile_id}</td>
              <td class="mono">{i.id}</td>
              {me.may.operate && (
                <td>
                  <div class="toolbar">
                    <button onClick={() => void decide([i.id], 'release')}>Release</button>
                    <button class="danger" onClick={() => void decide([i.id], 'discard')}>
                      Discard
                    </button>
                  </div>
                </td>
              )}
            </tr>
          ))}
          {items.length === 0 && !held.loading && (
            <tr>
              <td colSpan={7}>Nothing is held for review.</td>
            </tr>
          )}
        </tbody>
      </table>
      <Pager pager={pager} nextCursor={held.data?.next_cursor} label="Review queue" />
    </section>
  );
}

export function ReviewScreen() {
  return (
    <>
      <h1>Review queue</h1>
      <ReviewPanel />
    </>
  );
}
