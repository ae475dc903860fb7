// Thin fetch wrapper for the JSON API. Same origin, cookie auth: the browser
// sends the session cookie and, on POST/PATCH/DELETE, the Origin header the
// server's CSRF check wants.
import type { Overview, Stats, Task, TaskInput, TaskList, User } from './types';

export class ApiError extends Error {
  status: number;
  /** Validation messages by field name (422 problem+json "errors"). */
  fields: Record<string, string>;

  constructor(status: number, message: string, fields: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.fields = fields;
  }
}

type UnauthorizedHandler = () => void;
let onUnauthorized: UnauthorizedHandler = () => {};

/** Called on a 401 from any call but sign-in/sign-up themselves. */
export function setUnauthorizedHandler(h: UnauthorizedHandler) {
  onUnauthorized = h;
}

async function request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const init: RequestInit = { method, headers: { Accept: 'application/json', ...headers }, credentials: 'same-origin' };
  if (body !== undefined) {
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.');
  }
  if (res.status === 204) return undefined as T;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const fields: Record<string, string> = {};
    for (const e of (data && data.errors) || []) {
      if (e && typeof e.field === 'string' && !(e.field in fields)) fields[e.field] = String(e.message);
    }
    const msg = (data && (data.detail || data.title || data.message)) || `Request failed (${res.status})`;
    if (res.status === 401 && !path.startsWith('/api/auth/login') && !path.startsWith('/api/auth/signup')) {
      onUnauthorized();
    }
    throw new ApiError(res.status, msg, fields);
  }
  return data as T;
}

export interface ListQuery {
  status?: string;
  priority?: string;
  category?: string;
  due?: string;
  q?: string;
  sort?: string;
  offset?: number;
  limit?: number;
}

export const tz = (() => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
})();

export const api = {
  session: () => request<{ user: User | null }>('GET', '/api/auth/session'),
  signUp: (name: string, email: string, password: string) =>
    request<{ user: User }>('POST', '/api/auth/signup', { name, email, password }),
  signIn: (email: string, password: string) => request<{ user: User }>('POST', '/api/auth/login', { email, password }),
  signOut: () => request<unknown>('POST', '/api/auth/logout'),

  listTasks(q: ListQuery) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) {
      if (v !== undefined && v !== '' && v !== null) p.set(k, String(v));
    }
    p.set('tz', tz);
    return request<TaskList>('GET', `/api/tasks?${p}`);
  },
  getTask: (id: number) => request<Task>('GET', `/api/tasks/${id}`),
  createTask: (t: TaskInput) => request<Task>('POST', '/api/tasks', t),
  updateTask: (id: number, t: TaskInput, version?: number) =>
    request<Task>('PATCH', `/api/tasks/${id}`, t, version ? { 'If-Match': `"${id}-${version}"` } : {}),
  completeTask: (id: number) => request<Task>('PATCH', `/api/tasks/${id}/complete`),
  deleteTask: (id: number) => request<void>('DELETE', `/api/tasks/${id}`),
  stats: () => request<Stats>('GET', '/api/dashboard/stats'),
  overview: () => request<Overview>('GET', `/api/dashboard/overview?tz=${encodeURIComponent(tz)}`),
};
