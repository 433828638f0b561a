// Flows: name, status, trigger and the last 24 hours (delivered / failed / waiting), searched,
// filtered and paged by the server.

import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox, Pager, Status, useLoad, usePager } from '../ui';

export function FlowsScreen() {
  const [q, setQ] = useState('');
  const [status, setStatus] = useState('');
  const pager = usePager();
  const flows = useLoad(
    () => api.flows({ q, status, cursor: pager.cursor, limit: 50 }),
    [q, status, pager.cursor],
  );
  return (
    <>
      <h1>Flows</h1>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search
          <input
            type="search"
            value={q}
            placeholder="id or name"
            onInput={(e) => {
              setQ((e.target as HTMLInputElement).value);
              pager.reset();
            }}
          />
        </label>
        <label>
          Status
          <select
            value={status}
            onChange={(e) => {
              setStatus((e.target as HTMLSelectElement).value);
              pager.reset();
            }}
          >
            <option value="">any</option>
            <option value="live">live</option>
            <option value="manual">manual</option>
            <option value="draft">draft</option>
          </select>
        </label>
      </form>
      <ErrorBox error={flows.error} />
      <table aria-busy={flows.loading}>
        <caption class="sr-only">Flows, with their webhook outcomes over the last 24 hours</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">Trigger</th>
            <th scope="col" class="num">
              Delivered (24 h)
            </th>
            <th scope="col" class="num">
              Failed (24 h)
            </th>
            <th scope="col" class="num">
              Waiting (24 h)
            </th>
          </tr>
        </thead>
        <tbody>
          {flows.data?.items.map((f) => (
            <tr key={f.id}>
              <td>
                <a href={`#/flows/${encodeURIComponent(f.id)}`}>{f.name || f.id}</a>
                <div class="muted">
                  {f.id}
                  {f.valid ? '' : ' · invalid'}
                </div>
              </td>
              <td>
                <Status value={f.status} />
              </td>
              <td>{f.trigger}</td>
              <td class="num">{f.last_24h?.delivered ?? '—'}</td>
              <td class="num">{f.last_24h?.failed ?? '—'}</td>
              <td class="num">{f.last_24h?.waiting ?? '—'}</td>
            </tr>
          ))}
          {flows.data?.items.length === 0 && (
            <tr>
              <td colSpan={6}>No flows match.</td>
            </tr>
          )}
        </tbody>
      </table>
      <Pager pager={pager} nextCursor={flows.data?.next_cursor} label="Flows" />
    </>
  );
}
