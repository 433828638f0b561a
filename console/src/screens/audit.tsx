// A flow's audit trail: who changed what, when, from where, with which second factor.

import { api } from '../api';
import { ErrorBox, Time, useLoad } from '../ui';

export function AuditPanel({ flowId }: { flowId: string }) {
  const entries = useLoad(() => api.audit({ flow_id: flowId, limit: 200 }), [flowId]);
  return (
    <section aria-label="Audit trail">
      <h2>Audit trail</h2>
      <ErrorBox error={entries.error} />
      <table aria-busy={entries.loading}>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Second factor</th>
            <th scope="col">What</th>
            <th scope="col">Version</th>
            <th scope="col">From</th>
          </tr>
        </thead>
        <tbody>
          {entries.data?.items.map((e) => (
            <tr key={e.id}>
              <td>
                <Time iso={e.time} />
              </td>
              <td>
                {e.actor.email ?? e.actor.subject} ({e.actor.role})
              </td>
              <td>{e.actor.amr?.join(', ') || 'none'}</td>
              <td>
                <code>{e.action}</code> {e.summary}
              </td>
              <td>{e.version ?? '—'}</td>
              <td>{e.address ?? '—'}</td>
            </tr>
          ))}
          {entries.data?.items.length === 0 && (
            <tr>
              <td colSpan={6}>No changes recorded.</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
