import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type ListQuery } from './api';
import { useLive } from './live';
import { Link, navigate } from './router';
import { toast } from './toast';
import type { Stats, Task, TaskList as TaskListData } from './types';
import { fmtDate, isOverdue, PRIORITIES, useDebounced, useScreen } from './util';

export const PAGE_SIZE = 20;

/** The list's URL (with its filters), so other screens can come back to it. */
export let lastListUrl = '/';

/** Set by the "n" shortcut when pressed away from the list. */
export const focusNew = { pending: false };

const SORTS: Array<[string, string]> = [
  ['-created_at', 'Newest first'],
  ['created_at', 'Oldest first'],
  ['due_date', 'Due date'],
  ['-priority', 'Priority'],
  ['title', 'Title A–Z'],
  ['-updated_at', 'Recently changed'],
];

function errorText(e: unknown): string {
  return e instanceof ApiError ? e.message : 'Something went wrong.';
}

export function TaskList(props: { search: URLSearchParams }) {
  const heading = useScreen('Tasks');
  const s = props.search;
  const query: ListQuery = {
    status: s.get('status') || '',
    priority: s.get('priority') || '',
    category: s.get('category') || '',
    due: s.get('due') || '',
    q: s.get('q') || '',
    sort: s.get('sort') || '',
  };
  const page = Math.max(1, Number(s.get('page')) || 1);
  const filtered = !!(query.status || query.priority || query.category || query.due || query.q);
  const key = JSON.stringify([query, page]);
  lastListUrl = location.pathname + location.search;

  const [data, setData] = useState<TaskListData | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadError, setLoadError] = useState('');
  const [stats, setStats] = useState<Stats | null>(null);
  const seq = useRef(0);
  // The newest version of each task seen in a live event. A list request
  // that was already under way when the event arrived answers with the older
  // version; merging keeps the screen from going back in time.
  const latest = useRef(new Map<number, Task>());

  async function load() {
    const my = ++seq.current;
    setLoading(true);
    try {
      const res = await api.listTasks({ ...query, offset: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE });
      if (my !== seq.current) return;
      if (res.tasks.length === 0 && page > 1 && res.total > 0) {
        setParam('page', String(Math.ceil(res.total / PAGE_SIZE)));
        return;
      }
      const tasks = res.tasks.map((t) => {
        const seen = latest.current.get(t.id);
        return seen && seen.version > t.version ? seen : t;
      });
      setData({ ...res, tasks });
      setLoadError('');
    } catch (e) {
      if (my === seq.current) setLoadError(errorText(e));
    } finally {
      if (my === seq.current) setLoading(false);
    }
  }
  const reloadSoon = useDebounced(load, 200);

  useEffect(() => {
    load();
  }, [key]);
  useEffect(() => {
    api.stats().then(setStats, () => {});
  }, []);

  const update = (fn: (tasks: Task[]) => Task[], totalDelta = 0) =>
    setData((d) => (d ? { ...d, tasks: fn(d.tasks), total: d.total + totalDelta } : d));
  const upsert = (t: Task) => {
    const seen = latest.current.get(t.id);
    if (!seen || t.version >= seen.version) latest.current.set(t.id, t);
    update((ts) => ts.map((x) => (x.id === t.id && t.version >= x.version ? t : x)));
  };

  useLive((e) => {
    switch (e.type) {
      case 'hello':
        load();
        api.stats().then(setStats, () => {});
        break;
      case 'stats.updated':
        setStats(e.data);
        break;
      case 'task.created':
        if (!data?.tasks.some((t) => t.id === e.data.id)) reloadSoon();
        break;
      case 'task.updated':
      case 'task.completed':
        upsert(e.data);
        if (filtered) reloadSoon();
        break;
      case 'task.deleted':
        // Remove it at once; the reload refills the page from the next one.
        if (data?.tasks.some((t) => t.id === e.data.id)) update((ts) => ts.filter((t) => t.id !== e.data.id), -1);
        reloadSoon();
        break;
    }
  });

  function setParam(name: string, value: string) {
    const p = new URLSearchParams(location.search);
    if (value) p.set(name, value);
    else p.delete(name);
    if (name !== 'page') p.delete('page');
    const qs = p.toString();
    navigate(qs ? `/?${qs}` : '/', true);
  }

  async function toggle(t: Task) {
    const optimistic = { ...t, status: !t.status, completed_at: t.status ? null : new Date().toISOString() };
    update((ts) => ts.map((x) => (x.id === t.id ? optimistic : x)));
    try {
      upsert(t.status ? await api.updateTask(t.id, { status: false }) : await api.completeTask(t.id));
    } catch (e) {
      update((ts) => ts.map((x) => (x === optimistic ? t : x)));
      toast(`Could not update “${t.title}”: ${errorText(e)}`, true);
    }
  }

  async function rename(t: Task, title: string) {
    const optimistic = { ...t, title: title.trim() };
    update((ts) => ts.map((x) => (x.id === t.id ? optimistic : x)));
    try {
      upsert(await api.updateTask(t.id, { title }));
    } catch (e) {
      update((ts) => ts.map((x) => (x === optimistic ? t : x)));
      throw e;
    }
  }

  async function remove(t: Task) {
    const index = data?.tasks.findIndex((x) => x.id === t.id) ?? -1;
    update((ts) => ts.filter((x) => x.id !== t.id), -1);
    try {
      await api.deleteTask(t.id);
      toast(`Deleted “${t.title}”`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return;
      update((ts) => (ts.some((x) => x.id === t.id) ? ts : [...ts.slice(0, index), t, ...ts.slice(index)]), 1);
      toast(`Could not delete “${t.title}”: ${errorText(e)}`, true);
    }
  }

  async function create(title: string, priority: number) {
    const t = await api.createTask({ title, priority: priority as Task['priority'] });
    if (page === 1 && !filtered && !query.sort) {
      update((ts) => (ts.some((x) => x.id === t.id) ? ts : [t, ...ts].slice(0, PAGE_SIZE)), 1);
    } else reloadSoon();
    toast(`Added “${t.title}”`);
  }

  const total = data?.total ?? 0;
  // The range describes the rows on screen, taken from the answer that
  // produced them: computed from the page in the URL, it changed on "Next"
  // before the next page's rows had arrived.
  const shown = data?.offset ?? 0;
  const from = total === 0 ? 0 : shown + 1;
  const to = Math.min(total, shown + (data?.tasks.length ?? 0));
  const categories = (stats?.by_category || []).map((c) => c.category).filter((c): c is string => !!c);
  if (query.category && !categories.includes(query.category)) categories.push(query.category);

  return (
    <main class="page">
      <div class="page-head">
        <h1 tabIndex={-1} ref={heading}>
          Tasks
        </h1>
        {stats && (
          <p class="muted" data-testid="summary">
            {stats.pending_tasks} pending · {stats.completed_tasks} done
          </p>
        )}
      </div>
      <NewTask onCreate={create} />
      <Filters query={query} categories={categories} setParam={setParam} />
      <section aria-labelledby="list-heading" aria-busy={loading}>
        <h2 id="list-heading" class="sr-only">
          Task list
        </h2>
        {loadError && (
          <p class="form-error" role="alert">
            {loadError}{' '}
            <button type="button" onClick={load}>
              Retry
            </button>
          </p>
        )}
        {!data && loading && <p class="empty">Loading tasks…</p>}
        {data && data.tasks.length === 0 && !loading && (
          <p class="empty" data-testid="empty">
            {filtered ? 'No tasks match these filters.' : 'No tasks yet. Press n or use the field above to add one.'}
          </p>
        )}
        {data && data.tasks.length > 0 && (
          <ul class="tasks" data-testid="tasks">
            {data.tasks.map((t) => (
              <TaskRow key={t.id} task={t} onToggle={toggle} onRename={rename} onDelete={remove} />
            ))}
          </ul>
        )}
        {data && total > 0 && (
          <nav class="pager" aria-label="Pages">
            <button type="button" disabled={page <= 1} onClick={() => setParam('page', page > 2 ? String(page - 1) : '')}>
              ← Previous
            </button>
            <span data-testid="range">
              {from}–{to} of {total}
            </span>
            <button type="button" disabled={to >= total} onClick={() => setParam('page', String(page + 1))}>
              Next →
            </button>
          </nav>
        )}
      </section>
    </main>
  );
}

function NewTask(props: { onCreate: (title: string, priority: number) => Promise<void> }) {
  const [title, setTitle] = useState('');
  const [priority, setPriority] = useState(2);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (focusNew.pending) {
      focusNew.pending = false;
      input.current?.focus();
    }
  }, []);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await props.onCreate(title, priority);
      setTitle('');
      setPriority(2);
    } catch (err) {
      const ae = err instanceof ApiError ? err : null;
      setError(ae?.fields.title ? `Title ${ae.fields.title}` : errorText(err));
    } finally {
      setBusy(false);
      input.current?.focus();
    }
  }

  return (
    <form class="card new-task" onSubmit={submit} noValidate>
      <div class="field grow">
        <label for="new-title">New task</label>
        <input
          id="new-title"
          ref={input}
          value={title}
          placeholder="What needs doing? (press n)"
          autocomplete="off"
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'new-title-error' : undefined}
          onInput={(e) => setTitle(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              setTitle('');
              setError('');
              e.currentTarget.blur();
            }
          }}
        />
      </div>
      <div class="field">
        <label for="new-priority">Priority</label>
        <select id="new-priority" value={priority} onChange={(e) => setPriority(Number(e.currentTarget.value))}>
          <option value="3">High</option>
          <option value="2">Medium</option>
          <option value="1">Low</option>
        </select>
      </div>
      <button class="primary" type="submit" disabled={busy}>
        Add
      </button>
      {error && (
        <p class="field-error full" id="new-title-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

function Filters(props: { query: ListQuery; categories: string[]; setParam: (n: string, v: string) => void }) {
  const { query, setParam } = props;
  const [q, setQ] = useState(query.q || '');
  const pushQ = useDebounced(() => setParam('q', q.trim() ? q : ''), 250);
  useEffect(() => {
    if ((query.q || '') !== q && document.activeElement?.id !== 'f-q') setQ(query.q || '');
  }, [query.q]);

  const select = (id: string, label: string, name: keyof ListQuery, options: Array<[string, string]>) => (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={String(query[name] || '')} onChange={(e) => setParam(name, e.currentTarget.value)}>
        {options.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
    </div>
  );

  return (
    <form class="filters" role="search" aria-label="Filter tasks" onSubmit={(e) => e.preventDefault()}>
      <div class="field grow">
        <label for="f-q">Search</label>
        <input
          id="f-q"
          type="search"
          value={q}
          placeholder="Title or description"
          onInput={(e) => {
            setQ(e.currentTarget.value);
            pushQ();
          }}
        />
      </div>
      {select('f-status', 'Status', 'status', [
        ['', 'All'],
        ['pending', 'Pending'],
        ['completed', 'Completed'],
      ])}
      {select('f-priority', 'Priority', 'priority', [
        ['', 'Any'],
        ['high', 'High'],
        ['medium', 'Medium'],
        ['low', 'Low'],
      ])}
      {select('f-category', 'Category', 'category', [['', 'Any'], ...props.categories.map((c): [string, string] => [c, c])])}
      {select('f-due', 'Due', 'due', [
        ['', 'Any time'],
        ['overdue', 'Overdue'],
        ['today', 'Today'],
        ['week', 'Next 7 days'],
        ['none', 'No due date'],
      ])}
      {select('f-sort', 'Sort', 'sort', SORTS.map(([v, l]): [string, string] => [v === '-created_at' ? '' : v, l]))}
    </form>
  );
}

function TaskRow(props: {
  task: Task;
  onToggle: (t: Task) => void;
  onRename: (t: Task, title: string) => Promise<void>;
  onDelete: (t: Task) => void;
}) {
  const t = props.task;
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(t.title);
  const [error, setError] = useState('');
  const [confirming, setConfirming] = useState(false);
  const editRef = useRef<HTMLInputElement>(null);
  const editBtn = useRef<HTMLButtonElement>(null);
  const delBtn = useRef<HTMLButtonElement>(null);
  const confirmBtn = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (confirming) confirmBtn.current?.focus();
  }, [confirming]);

  useEffect(() => {
    if (editing) editRef.current?.focus();
  }, [editing]);

  function stopEditing() {
    setEditing(false);
    setError('');
    setTimeout(() => editBtn.current?.focus());
  }

  async function save(e: Event) {
    e.preventDefault();
    if (draft === t.title) return stopEditing();
    try {
      await props.onRename(t, draft);
      stopEditing();
    } catch (err) {
      const ae = err instanceof ApiError ? err : null;
      setError(ae?.fields.title ? `Title ${ae.fields.title}` : errorText(err));
      editRef.current?.focus();
    }
  }

  const overdue = isOverdue(t);
  return (
    <li class={t.status ? 'task done' : 'task'} data-task-id={t.id}>
      <input
        type="checkbox"
        class="check"
        checked={t.status}
        aria-label={`${t.status ? 'Mark as not done' : 'Mark as done'}: ${t.title}`}
        onChange={() => props.onToggle(t)}
      />
      {editing ? (
        <form class="task-edit" onSubmit={save} noValidate>
          <label class="sr-only" for={`edit-${t.id}`}>
            Title
          </label>
          <input
            id={`edit-${t.id}`}
            ref={editRef}
            value={draft}
            aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? `edit-${t.id}-error` : undefined}
            onInput={(e) => setDraft(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Escape') {
                e.preventDefault();
                stopEditing();
              }
            }}
          />
          <button type="submit" class="primary small">
            Save
          </button>
          <button type="button" class="small" onClick={stopEditing}>
            Cancel
          </button>
          {error && (
            <p class="field-error full" id={`edit-${t.id}-error`} role="alert">
              {error}
            </p>
          )}
        </form>
      ) : (
        <div class="task-main">
          <Link href={`/tasks/${t.id}`} class="task-title">
            {t.title}
          </Link>
          <div class="meta">
            <span class={`badge p${t.priority}`}>{PRIORITIES[t.priority]}</span>
            {t.category && <span class="badge cat">{t.category}</span>}
            {t.due_date && <span class={overdue ? 'due overdue' : 'due'}>{overdue ? 'Overdue · ' : 'Due '}{fmtDate(t.due_date)}</span>}
          </div>
        </div>
      )}
      {!editing && (
        <div class="actions">
          {confirming ? (
            <>
              <button type="button" class="small danger" ref={confirmBtn} onClick={() => props.onDelete(t)} onKeyDown={(e) => e.key === 'Escape' && setConfirming(false)}>
                Confirm delete
              </button>
              <button
                type="button"
                class="small"
                onClick={() => {
                  setConfirming(false);
                  setTimeout(() => delBtn.current?.focus());
                }}
              >
                Keep
              </button>
            </>
          ) : (
            <>
              <button
                type="button"
                class="small"
                ref={editBtn}
                aria-label={`Edit title: ${t.title}`}
                onClick={() => {
                  setDraft(t.title);
                  setEditing(true);
                }}
              >
                Edit
              </button>
              <button type="button" class="small" ref={delBtn} aria-label={`Delete: ${t.title}`} onClick={() => setConfirming(true)}>
                Delete
              </button>
            </>
          )}
        </div>
      )}
    </li>
  );
}
