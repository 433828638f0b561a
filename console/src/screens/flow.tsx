// One flow: its graph (trigger → filters → splits → delays → webhooks), status changes, and its
// activity, review queue, dead letters and audit trail in tabs.

import { useState } from 'preact/hooks';
import { api, type Flow } from '../api';
import { actionsOf, branchesOf, definitionOf, describeAction, type ActionView } from '../flow-doc';
import { useSession } from '../session';
import { ErrorBox, Status, errorText, useLoad } from '../ui';
import { ActivityPanel } from './activity';
import { AuditPanel } from './audit';
import { DlqPanel } from './dlq';
import { ReviewPanel } from './review';

const TABS = [
  ['graph', 'Graph'],
  ['activity', 'Activity'],
  ['review', 'Review queue'],
  ['dlq', 'Dead letters'],
  ['audit', 'Audit trail'],
] as const;

function Node({ flow, id, seen }: { flow: Flow; id: string | null; seen: Set<string> }) {
  if (id === null) return <li class="node end">end</li>;
  const a: ActionView | undefined = actionsOf(flow).get(id);
  if (!a || seen.has(id)) return <li class="node">→ {id}</li>;
  const next = new Set(seen).add(id);
  const branches = branchesOf(a);
  const title =
    a.type === 'send-webhook' ? (
      <a href={`#/flows/${encodeURIComponent(flow.id)}/actions/${encodeURIComponent(a.id)}`}>
        Webhook {a.id}
      </a>
    ) : (
      <span>
        {a.type.replace(/-/g, ' ')} {a.id}
      </span>
    );
  return (
    <>
      <li class={`node node-${a.type}`}>
        <div class="box">
          <strong>{title}</strong>
          {a.data?.status && <Status value={a.data.status} />}
          <div class="muted">{describeAction(a)}</div>
        </div>
      </li>
      {branches.length === 1 ? (
        <Node flow={flow} id={branches[0]?.next ?? null} seen={next} />
      ) : (
        <li class="branches">
          {branches.map((b) => (
            <ol class="graph" aria-label={`branch ${b.label}`} key={b.label}>
              <li class="branch-label">{b.label}</li>
              <Node flow={flow} id={b.next} seen={next} />
            </ol>
          ))}
        </li>
      )}
    </>
  );
}

export function FlowGraph({ flow }: { flow: Flow }) {
  const def = definitionOf(flow);
  const trigger = def.triggers?.[0];
  return (
    <ol class="graph" aria-label="Flow graph">
      <li class="node node-trigger">
        <div class="box">
          <strong>Trigger</strong>
          <div class="muted">
            {trigger?.type}: {trigger?.id}
          </div>
        </div>
      </li>
      <Node flow={flow} id={def.entry_action_id ?? null} seen={new Set()} />
    </ol>
  );
}

export function FlowScreen({ flowId, tab = 'graph' }: { flowId: string; tab?: string }) {
  const { me } = useSession();
  const flow = useLoad(() => api.flow(flowId), [flowId]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const setStatus = async (status: 'live' | 'manual' | 'draft') => {
    if (!flow.data) return;
    setBusy(true);
    setError(undefined);
    try {
      await api.setStatus(flowId, status, (flow.data as { version?: number }).version);
      flow.reload();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const f = flow.data;
  return (
    <>
      <p>
        <a href="#/flows">← Flows</a>
      </p>
      <ErrorBox error={flow.error} />
      {f && (
        <>
          <h1>{(f as { name?: string }).name || f.id}</h1>
          <p class="meta">
            <Status value={String((f as { status?: string }).status)} /> version{' '}
            {String((f as { version?: number }).version)} · id {f.id}
          </p>
          {me.may.edit_flows && (
            <div class="toolbar" role="group" aria-label="Change status">
              {(['live', 'manual', 'draft'] as const).map((s) => (
                <button
                  key={s}
                  disabled={busy || (f as { status?: string }).status === s}
                  onClick={() => void setStatus(s)}
                >
                  Set {s}
                </button>
              ))}
            </div>
          )}
          <ErrorBox error={error} />
          <nav class="tabs" aria-label="Flow views">
            {TABS.map(([key, label]) => (
              <a
                key={key}
                href={`#/flows/${encodeURIComponent(flowId)}/${key}`}
                aria-current={tab === key ? 'page' : undefined}
              >
                {label}
              </a>
            ))}
          </nav>
          {tab === 'graph' && <FlowGraph flow={f} />}
          {tab === 'activity' && <ActivityPanel flowId={flowId} />}
          {tab === 'review' && <ReviewPanel flowId={flowId} />}
          {tab === 'dlq' && <DlqPanel flowId={flowId} />}
          {tab === 'audit' && <AuditPanel flowId={flowId} />}
        </>
      )}
    </>
  );
}
