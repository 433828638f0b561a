// A webhook action: URL, headers (secrets by name: {{ secrets.NAME }}, never their values), the
// body template with a live preview against an example event, a test send of the saved version,
// and saving with the API's validation messages next to the field they point at. A save the
// API refuses for want of MFA offers a fresh sign-in and keeps the edit for when it returns.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, type DraftPreview, type Flow, type Problem, type TestSend } from '../api';
import { actionsOf, exampleEvent, withMessage, type WebhookMessage } from '../flow-doc';
import { useSession } from '../session';
import { ErrorBox, errorText, useLoad } from '../ui';
import { ActivityPanel } from './activity';

type Field = 'url' | 'headers' | 'body' | 'event' | 'other';

interface Draft {
  url: string;
  headers: { name: string; value: string }[];
  body: string;
}

const draftKey = (flowId: string, actionId: string) => `flowhook.draft.${flowId}.${actionId}`;

function draftOf(m: WebhookMessage | undefined): Draft {
  return {
    url: m?.url ?? '',
    headers: Object.entries(m?.headers ?? {}).map(([name, value]) => ({ name, value })),
    body: m?.body ?? '',
  };
}

function messageOf(original: WebhookMessage | undefined, d: Draft): WebhookMessage {
  const headers: Record<string, string> = {};
  for (const h of d.headers) if (h.name.trim()) headers[h.name.trim()] = h.value;
  return { ...original, url: d.url, headers, body: d.body };
}

/** Which field a validation problem's path points at. */
function fieldOf(path: string): Field {
  if (/\.message\.url\b/.test(path)) return 'url';
  if (/\.message\.headers\b/.test(path)) return 'headers';
  if (/\.message\.body\b/.test(path)) return 'body';
  return 'other';
}

const secretNames = (text: string) =>
  [...text.matchAll(/\{\{\s*secrets\.([A-Za-z0-9_]+)\s*\}\}/g)].map((m) => m[1] as string);

function FieldProblems({ id, problems }: { id: string; problems: string[] }) {
  if (problems.length === 0) return null;
  return (
    <ul id={id} class="field-problems" role="alert">
      {problems.map((p) => (
        <li key={p}>{p}</li>
      ))}
    </ul>
  );
}

export function WebhookScreen({ flowId, actionId }: { flowId: string; actionId: string }) {
  const { me, signInAgain } = useSession();
  const flow = useLoad(() => api.flow(flowId), [flowId]);
  const action = flow.data ? actionsOf(flow.data).get(actionId) : undefined;
  const [draft, setDraft] = useState<Draft>();
  const [restored, setRestored] = useState(false);
  const [eventText, setEventText] = useState('');
  const [preview, setPreview] = useState<DraftPreview>();
  const [previewError, setPreviewError] = useState<string>();
  const [saveProblems, setSaveProblems] = useState<Problem[]>([]);
  const [saveError, setSaveError] = useState<string>();
  const [mfaNeeded, setMfaNeeded] = useState(false);
  const [saved, setSaved] = useState<string>();
  const [sending, setSending] = useState(false);
  const [sent, setSent] = useState<TestSend>();

  // First load: the stored message, or the edit kept across a fresh sign-in.
  useEffect(() => {
    if (!flow.data || draft) return;
    const kept = sessionStorage.getItem(draftKey(flowId, actionId));
    if (kept) {
      sessionStorage.removeItem(draftKey(flowId, actionId));
      setDraft(JSON.parse(kept) as Draft);
      setRestored(true);
    } else setDraft(draftOf(action?.data?.message));
    setEventText(JSON.stringify(exampleEvent(flow.data), null, 2));
  }, [flow.data]);

  const candidate: Flow | undefined = useMemo(
    () =>
      flow.data && draft
        ? withMessage(flow.data, actionId, messageOf(action?.data?.message, draft))
        : undefined,
    [flow.data, draft],
  );

  // Live preview, a moment after the last keystroke.
  useEffect(() => {
    if (!candidate) return;
    let event: unknown;
    try {
      event = JSON.parse(eventText);
    } catch (e) {
      setPreviewError(`The example event is not JSON: ${(e as Error).message}`);
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      api.draftPreview(candidate, event).then(
        (p) => {
          if (!live) return;
          setPreview(p);
          setPreviewError(undefined);
        },
        (e: unknown) => live && setPreviewError(errorText(e)),
      );
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [candidate, eventText]);

  if (flow.error) return <ErrorBox error={flow.error} />;
  if (!flow.data || !draft) return <p aria-busy="true">Loading…</p>;
  if (!action || action.type !== 'send-webhook')
    return <ErrorBox error={`flow ${flowId} has no webhook action ${actionId}`} />;

  const problems = [...(preview?.problems ?? []), ...saveProblems];
  const byField = (f: Field) =>
    problems.filter((p) => fieldOf(p.path) === f).map((p) => `${p.message} (${p.path})`);
  const request = preview?.requests.find((r) => r.action_id === actionId);
  const note = preview?.notes.find((n) => n.action_id === actionId);
  const bodyProblems = [
    ...byField('body'),
    ...(note?.kind === 'render_error' ? [note.reason] : []),
  ];
  const readOnly = !me.may.edit_flows;
  const secrets = [...new Set(draft.headers.flatMap((h) => secretNames(h.value)))];
  const update = (d: Partial<Draft>) => {
    setDraft({ ...draft, ...d });
    setSaved(undefined);
  };
  const event = () => JSON.parse(eventText) as unknown;

  const save = async () => {
    if (!candidate) return;
    setSaveError(undefined);
    setSaveProblems([]);
    setMfaNeeded(false);
    try {
      const doc = await api.saveFlow(flowId, candidate);
      setSaved(`Saved: version ${String((doc as { version?: number }).version)}.`);
      setRestored(false);
      flow.reload();
    } catch (e) {
      if (e instanceof ApiError && e.code === 'FLOWHOOK_ERR_MFA_REQUIRED') setMfaNeeded(true);
      if (e instanceof ApiError && e.body.problems) setSaveProblems(e.body.problems as Problem[]);
      setSaveError(errorText(e));
    }
  };
  const freshSignIn = () => {
    sessionStorage.setItem(draftKey(flowId, actionId), JSON.stringify(draft));
    signInAgain();
  };
  const testSend = async () => {
    setSending(true);
    setSent(undefined);
    try {
      setSent(await api.testSend(flowId, event()));
    } catch (e) {
      setSaveError(errorText(e));
    } finally {
      setSending(false);
    }
  };

  return (
    <>
      <p>
        <a href={`#/flows/${encodeURIComponent(flowId)}`}>
          ← {(flow.data as { name?: string }).name || flowId}
        </a>
      </p>
      <h1>Webhook {actionId}</h1>
      {readOnly && (
        <p class="note">Your role ({me.role}) may read this webhook but not change it.</p>
      )}
      {!readOnly && !me.mfa && (
        <p class="note">
          Changing a webhook's URL, headers or body needs a sign-in with a second factor; yours has
          none.
        </p>
      )}
      {restored && (
        <p role="status" class="note">
          Your unsaved edit is back; save it now.
        </p>
      )}
      <div class="editor">
        <form
          class="fields"
          onSubmit={(e) => (e.preventDefault(), void save())}
          aria-label="Webhook"
        >
          <label for="wh-url">URL</label>
          <input
            id="wh-url"
            type="url"
            value={draft.url}
            readOnly={readOnly}
            aria-invalid={byField('url').length > 0}
            aria-describedby="wh-url-problems"
            onInput={(e) => update({ url: (e.target as HTMLInputElement).value })}
          />
          <FieldProblems id="wh-url-problems" problems={byField('url')} />

          <fieldset aria-describedby="wh-headers-help wh-headers-problems">
            <legend>Headers</legend>
            <p id="wh-headers-help" class="muted">
              Secrets by name only: <code>{'{{ secrets.NAME }}'}</code>. Their values never reach
              the browser.
            </p>
            {draft.headers.map((h, i) => (
              <div class="header-row" key={i}>
                <input
                  aria-label={`Header ${i + 1} name`}
                  value={h.name}
                  readOnly={readOnly}
                  onInput={(e) =>
                    update({
                      headers: draft.headers.map((x, j) =>
                        j === i ? { ...x, name: (e.target as HTMLInputElement).value } : x,
                      ),
                    })
                  }
                />
                <input
                  aria-label={`Header ${i + 1} value`}
                  value={h.value}
                  readOnly={readOnly}
                  onInput={(e) =>
                    update({
                      headers: draft.headers.map((x, j) =>
                        j === i ? { ...x, value: (e.target as HTMLInputElement).value } : x,
                      ),
                    })
                  }
                />
                {!readOnly && (
                  <button
                    type="button"
                    aria-label={`Remove header ${h.name || i + 1}`}
                    onClick={() => update({ headers: draft.headers.filter((_, j) => j !== i) })}
                  >
                    Remove
                  </button>
                )}
              </div>
            ))}
            {!readOnly && (
              <button
                type="button"
                onClick={() => update({ headers: [...draft.headers, { name: '', value: '' }] })}
              >
                Add header
              </button>
            )}
            {secrets.length > 0 && <p class="muted">Secrets used: {secrets.join(', ')}</p>}
            <FieldProblems id="wh-headers-problems" problems={byField('headers')} />
          </fieldset>

          <label for="wh-body">Body template</label>
          <textarea
            id="wh-body"
            rows={8}
            class="mono"
            value={draft.body}
            readOnly={readOnly}
            spellcheck={false}
            aria-invalid={bodyProblems.length > 0}
            aria-describedby="wh-body-problems"
            onInput={(e) => update({ body: (e.target as HTMLTextAreaElement).value })}
          />
          <FieldProblems id="wh-body-problems" problems={bodyProblems} />
          <FieldProblems id="wh-other-problems" problems={byField('other')} />

          {!readOnly && (
            <div class="toolbar">
              <button type="submit" class="primary">
                Save
              </button>
              <button type="button" disabled={sending} onClick={() => void testSend()}>
                Test send (saved version)
              </button>
            </div>
          )}
          {saved && (
            <p role="status" class="ok">
              {saved}
            </p>
          )}
          <ErrorBox error={saveError} />
          {mfaNeeded && (
            <div class="mfa" role="alert">
              <p>This change needs a fresh sign-in with a second factor. Your edit is kept.</p>
              <button type="button" class="primary" onClick={freshSignIn}>
                Sign in again with a second factor
              </button>
            </div>
          )}
        </form>

        <div class="preview">
          <label for="wh-event">Example event (edit or paste one)</label>
          <textarea
            id="wh-event"
            rows={10}
            class="mono"
            spellcheck={false}
            value={eventText}
            onInput={(e) => setEventText((e.target as HTMLTextAreaElement).value)}
          />
          <h2 id="preview-title">Preview</h2>
          <ErrorBox error={previewError} />
          {request ? (
            <div aria-labelledby="preview-title" aria-live="polite">
              <p class="mono">POST {request.url}</p>
              <pre class="mono" data-testid="preview-headers">
                {Object.entries(request.headers)
                  .map(([k, v]) => `${k}: ${v}`)
                  .join('\n')}
              </pre>
              <pre class="mono" data-testid="preview-body">
                {JSON.stringify(request.body, null, 2)}
              </pre>
            </div>
          ) : (
            <p class="muted" data-testid="preview-body">
              {note
                ? `No request: ${note.kind.replace(/_/g, ' ')} — ${note.reason}`
                : preview?.ok === false
                  ? 'Fix the problems to see the request.'
                  : '…'}
            </p>
          )}
          {sent && (
            <div role="status" data-testid="test-send">
              <h2>Test send</h2>
              {sent.results
                .filter((r) => r.action_id === actionId)
                .map((r) => (
                  <div key={r.webhook_id}>
                    <p>
                      {r.status === null
                        ? `no answer: ${r.error?.message ?? ''}`
                        : `HTTP ${r.status}`}{' '}
                      in {Math.round(r.duration_ms)} ms
                    </p>
                    {r.response_body && <pre class="excerpt">{r.response_body}</pre>}
                  </div>
                ))}
            </div>
          )}
        </div>
      </div>
      <ActivityPanel flowId={flowId} actionId={actionId} />
    </>
  );
}
