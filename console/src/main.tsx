// The console's shell: sign-in, the signed-in principal, a hash router (#/flows, #/flows/ID,
// #/flows/ID/actions/AID, #/review, #/dlq) and the navigation.

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, whenUnauthenticated, type Me, type SignIn } from './api';
import { completeSignIn, currentToken, signOut, startSignIn } from './auth';
import { FlowScreen } from './screens/flow';
import { FlowsScreen } from './screens/flows';
import { ReviewScreen } from './screens/review';
import { DlqScreen } from './screens/dlq';
import { WebhookScreen } from './screens/webhook';
import { Session } from './session';
import './style.css';

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Route({ hash }: { hash: string }) {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'flows' && parts[1] && parts[2] === 'actions' && parts[3])
    return <WebhookScreen flowId={parts[1]} actionId={parts[3]} />;
  if (parts[0] === 'flows' && parts[1]) return <FlowScreen flowId={parts[1]} tab={parts[2]} />;
  if (parts[0] === 'review') return <ReviewScreen />;
  if (parts[0] === 'dlq') return <DlqScreen />;
  return <FlowsScreen />;
}

function App() {
  const hash = useHash();
  const [config, setConfig] = useState<SignIn>();
  const [me, setMe] = useState<Me>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    whenUnauthenticated(() => {
      signOut();
      setMe(undefined);
    });
    (async () => {
      const cfg = await api.signIn();
      setConfig(cfg);
      await completeSignIn();
      if (currentToken()) setMe(await api.me());
    })().catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, []);

  const signIn = (fresh = false) => {
    if (config) startSignIn(config, fresh).catch((e: Error) => setError(e.message));
  };

  if (!me) {
    return (
      <main class="signin" id="main">
        <h1>flowhook</h1>
        <p>Flows, webhook activity, review queue and dead letters.</p>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button class="primary" disabled={!config} onClick={() => signIn()}>
          Sign in{config?.local ? ' (local user, password and code)' : ''}
        </button>
      </main>
    );
  }

  const current = (prefix: string) => (hash.startsWith(prefix) ? 'page' : undefined);
  return (
    <Session.Provider value={{ me, signInAgain: () => signIn(true) }}>
      <a
        class="skip"
        href="#main"
        onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}
      >
        Skip to content
      </a>
      <header class="top">
        <strong class="brand">flowhook</strong>
        <nav aria-label="Main">
          <a href="#/flows" aria-current={current('#/flows') ?? (hash === '' ? 'page' : undefined)}>
            Flows
          </a>
          <a href="#/review" aria-current={current('#/review')}>
            Review queue
          </a>
          <a href="#/dlq" aria-current={current('#/dlq')}>
            Dead letters
          </a>
        </nav>
        <span class="who" data-testid="who">
          {me.email ?? me.subject} · {me.role}
          {me.mfa ? ' · MFA' : ' · no MFA'}
        </span>
        <button
          onClick={() => {
            signOut();
            setMe(undefined);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Route hash={hash} />
      </main>
    </Session.Provider>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
