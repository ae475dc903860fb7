import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import { api, setUnauthorizedHandler } from './api';
import { Auth } from './Auth';
import { Dashboard } from './Dashboard';
import { setSessionEndedHandler, startLive, stopLive, useLiveState } from './live';
import { Link, navigate, safeNext, useLocation } from './router';
import { getUser, setUser, useUser } from './session';
import { TaskDetail } from './TaskDetail';
import { focusNew, TaskList } from './TaskList';
import { Toasts } from './toast';
import './style.css';

let expired = false;

function toSignIn() {
  const here = location.pathname + location.search;
  const onAuth = location.pathname === '/signin' || location.pathname === '/signup';
  navigate(onAuth ? here : `/signin${here !== '/' ? `?next=${encodeURIComponent(here)}` : ''}`);
}

// Any 401 means the session is gone (expired, signed out elsewhere): go to
// sign-in, which brings the user back here afterwards.
setUnauthorizedHandler(() => {
  if (getUser()) expired = true;
  setUser(null);
  toSignIn();
});
setSessionEndedHandler(() => {
  api.session().then(
    (s) => {
      if (!s.user) {
        expired = true;
        setUser(null);
        toSignIn();
      }
    },
    () => {},
  );
});

function isTyping(el: Element | null) {
  return !!el && (el.matches('input, textarea, select, [contenteditable]') || !!el.closest('[contenteditable]'));
}

addEventListener('keydown', (e) => {
  if (e.key !== 'n' || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented || isTyping(document.activeElement)) return;
  if (!getUser()) return;
  e.preventDefault();
  const input = document.getElementById('new-title');
  if (input) input.focus();
  else {
    focusNew.pending = true;
    navigate('/');
  }
});

function Header() {
  const user = useUser();
  const { path } = useLocation();
  const live = useLiveState();
  async function signOut() {
    stopLive();
    try {
      await api.signOut();
    } catch {
      // The cookie may already be gone; signed out either way.
    }
    expired = false;
    setUser(null);
    navigate('/signin');
  }
  return (
    <header class="top">
      <a class="skip" href="#content">
        Skip to content
      </a>
      <Link href="/" class="brand">
        todo
      </Link>
      {user && (
        <>
          <nav aria-label="Main">
            <Link href="/" aria-current={path === '/' || path.startsWith('/tasks') ? 'page' : undefined}>
              Tasks
            </Link>
            <Link href="/dashboard" aria-current={path === '/dashboard' ? 'page' : undefined}>
              Dashboard
            </Link>
          </nav>
          <span class="spacer" />
          <span class={`live ${live}`} title={live === 'live' ? 'Live updates on' : 'Reconnecting…'} data-testid="live">
            <span class="dot" aria-hidden="true" />
            <span class="sr-only">{live === 'live' ? 'Live updates on' : 'Live updates reconnecting'}</span>
          </span>
          <span class="who" title={user.email}>
            {user.name}
          </span>
          <button type="button" class="small" onClick={signOut}>
            Sign out
          </button>
        </>
      )}
    </header>
  );
}

function App() {
  const user = useUser();
  const { path, search } = useLocation();
  const authPage = path === '/signin' || path === '/signup';

  useEffect(() => {
    api.session().then(
      (s) => setUser(s.user),
      () => setUser(null),
    );
  }, []);
  useEffect(() => {
    if (user) startLive();
    else if (user === null) stopLive();
  }, [user]);
  useEffect(() => {
    if (user === null && !authPage) toSignIn();
  }, [user, authPage]);

  let screen = null;
  const m = /^\/tasks\/(\d+)$/.exec(path);
  if (user === undefined) screen = <p class="empty">Loading…</p>;
  else if (authPage) {
    if (!user) screen = <Auth key={path} mode={path === '/signin' ? 'signin' : 'signup'} next={search.get('next')} expired={expired} />;
  } else if (!user) screen = null;
  else if (path === '/') screen = <TaskList search={search} />;
  else if (m) screen = <TaskDetail key={m[1]} id={Number(m[1])} />;
  else if (path === '/dashboard') screen = <Dashboard />;
  else
    screen = (
      <main class="page">
        <h1>Page not found</h1>
        <p>
          <Link href="/">Go to your tasks</Link>
        </p>
      </main>
    );

  useEffect(() => {
    if (authPage && user) navigate(safeNext(new URLSearchParams(location.search).get('next')), true);
  }, [authPage, user]);

  return (
    <>
      <Header />
      <div id="content">{screen}</div>
      <Toasts />
    </>
  );
}

render(<App />, document.getElementById('app')!);
