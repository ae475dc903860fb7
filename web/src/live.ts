// One WebSocket per tab to /api/ws (same origin: the session cookie goes
// along). Messages are handed to subscribers; on every "hello" (the first
// message of each connection, so also after a reconnect) subscribers reload
// what they show, since events sent while disconnected are not replayed.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Stats, Task } from './types';

export type LiveEvent =
  | { type: 'hello'; data: unknown }
  | { type: 'task.created' | 'task.updated' | 'task.completed'; data: Task }
  | { type: 'task.deleted'; data: { id: number } }
  | { type: 'stats.updated'; data: Stats };

type Handler = (e: LiveEvent) => void;
type State = 'off' | 'connecting' | 'live';

const handlers = new Set<Handler>();
const stateListeners = new Set<(s: State) => void>();
let ws: WebSocket | null = null;
let wanted = false;
let attempt = 0;
let timer: number | undefined;
let state: State = 'off';
let onSessionEnded: () => void = () => {};

function setState(s: State) {
  state = s;
  document.documentElement.dataset.live = s;
  stateListeners.forEach((l) => l(s));
}

/** Called when the server closes the socket because the session ended (1008). */
export function setSessionEndedHandler(h: () => void) {
  onSessionEnded = h;
}

function connect() {
  clearTimeout(timer);
  if (!wanted || ws) return;
  setState('connecting');
  const sock = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws`);
  ws = sock;
  sock.onmessage = (m) => {
    let e: LiveEvent;
    try {
      e = JSON.parse(m.data);
    } catch {
      return;
    }
    if (e.type === 'hello') {
      attempt = 0;
      setState('live');
    }
    handlers.forEach((h) => h(e));
  };
  sock.onclose = (ev) => {
    if (ws !== sock) return;
    ws = null;
    setState(wanted ? 'connecting' : 'off');
    if (!wanted) return;
    if (ev.code === 1008) onSessionEnded();
    // Exponential backoff with jitter: ~1 s doubling to 30 s.
    const base = Math.min(30000, 1000 * 2 ** attempt++);
    timer = window.setTimeout(connect, base / 2 + Math.random() * (base / 2));
  };
}

export function startLive() {
  wanted = true;
  connect();
}

export function stopLive() {
  wanted = false;
  clearTimeout(timer);
  attempt = 0;
  const sock = ws;
  ws = null;
  sock?.close(1000);
  setState('off');
}

// Reconnect at once when the tab comes back online or into view.
addEventListener('online', () => {
  if (wanted && !ws) {
    attempt = 0;
    connect();
  }
});

/** Subscribes h to live events while the calling component is mounted. */
export function useLive(h: Handler) {
  const ref = useRef(h);
  ref.current = h;
  useEffect(() => {
    const f: Handler = (e) => ref.current(e);
    handlers.add(f);
    return () => void handlers.delete(f);
  }, []);
}

export function useLiveState(): State {
  const [s, setS] = useState(state);
  useEffect(() => {
    stateListeners.add(setS);
    return () => void stateListeners.delete(setS);
  }, []);
  return s;
}
