// Dead-lettered webhooks, and replaying them (same webhook-id) for a flow.

import { useState } from 'preact/hooks';
import { api } from '../api';
import { useSession } from '../session';
import { ErrorBox, Time, errorText, useLoad } from '../ui';

export function DlqPanel({ flowId }: { flowId?: string }) {
  const { me } = useSession();
  const entries = useLoad(() => api.dlq({ flow_id: flowId }), [flowId]);
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();
  const replay = async (flow: string) => {
    setError(undefined);
    try {
      const r = await api.replay(flow);
      setMessage(`Replayed ${r.replayed} webhook${r.replayed === 1 ? '' : 's'} of ${flow}.`);
      entries.reload();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const items = entries.data?.items ?? [];
  return (
    <section aria-label="Dead letters">
      <div class="section-head">
        <h2>Dead letters</h2>
        {flowId && me.may.operate && (
          <button class="primary" disabled={items.length === 0} onClick={() => void replay(flowId)}>
            Replay all of this flow
          </button>
        )}
        <button onClick={entries.reload}>Refresh</button>
      </div>
      {message && (
        <p role="status" class="ok">
          {message}
        </p>
      )}
      <ErrorBox error={error ?? entries.error} />
      <table aria-busy={entries.loading} data-testid="dlq">
        <thead>
          <tr>
            <th scope="col">Failed at</th>
            <th scope="col">Flow</th>
            <th scope="col">Webhook</th>
            <th scope="col">Reason</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last error</th>
            {!flowId && me.may.operate && <th scope="col">Replay</th>}
          </tr>
        </thead>
        <tbody>
          {items.map((d) => (
            <tr key={`${d.partition}:${d.offset}`}>
              <td>
                <Time iso={d.failed_at} />
              </td>
              <td>{d.flow_id ?? '—'}</td>
              <td class="mono">{d.job_id ?? '—'}</td>
              <td>{d.reason}</td>
              <td class="num">{d.attempts}</td>
              <td class="error-text">{d.last_error ?? d.error_code ?? ''}</td>
              {!flowId && me.may.operate && (
                <td>
                  {d.flow_id && (
                    <button onClick={() => d.flow_id && void replay(d.flow_id)}>
                      Replay {d.flow_id}
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
          {items.length === 0 && !entries.loading && (
            <tr>
              <td colSpan={7}>Nothing dead-lettered.</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}

export function DlqScreen() {
  return (
    <>
      <h1>Dead letters</h1>
      <DlqPanel />
    </>
  );
}
