import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api';
import { useLive } from './live';
import { Link, navigate } from './router';
import { lastListUrl } from './TaskList';
import { toast } from './toast';
import type { Task } from './types';
import { fmtDate, fromDateInput, toDateInput, useScreen } from './util';

interface Draft {
  title: string;
  description: string;
  category: string;
  priority: string;
  due: string;
  status: boolean;
}

const toDraft = (t: Task): Draft => ({
  title: t.title,
  description: t.description ?? '',
  category: t.category ?? '',
  priority: String(t.priority),
  due: toDateInput(t.due_date),
  status: t.status,
});

export function TaskDetail(props: { id: number }) {
  const heading = useScreen('Edit task');
  const [task, setTask] = useState<Task | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [state, setState] = useState<'loading' | 'ready' | 'missing' | 'deleted' | 'error'>('loading');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [stale, setStale] = useState(false);
  const [confirming, setConfirming] = useState(false);

  async function load() {
    try {
      const t = await api.getTask(props.id);
      setTask(t);
      setDraft(toDraft(t));
      setStale(false);
      setState('ready');
    } catch (e) {
      setState(e instanceof ApiError && (e.status === 404 || e.status === 422) ? 'missing' : 'error');
      if (!(e instanceof ApiError && e.status === 401)) setError(e instanceof ApiError ? e.message : String(e));
    }
  }
  useEffect(() => {
    setState('loading');
    load();
  }, [props.id]);

  const dirty = !!(task && draft && JSON.stringify(toDraft(task)) !== JSON.stringify(draft));

  useLive((e) => {
    if (e.type === 'hello' && state === 'ready' && !dirty) load();
    if ((e.type === 'task.updated' || e.type === 'task.completed') && e.data.id === props.id && task && e.data.version > task.version) {
      if (dirty) setStale(true);
      else {
        setTask(e.data);
        setDraft(toDraft(e.data));
      }
    }
    if (e.type === 'task.deleted' && e.data.id === props.id) setState('deleted');
  });

  const back = () => navigate(lastListUrl);

  async function save(e: Event) {
    e.preventDefault();
    if (!task || !draft) return;
    setBusy(true);
    setFields({});
    setError('');
    try {
      const t = await api.updateTask(
        task.id,
        {
          title: draft.title,
          description: draft.description === '' ? null : draft.description,
          category: draft.category.trim() === '' ? null : draft.category,
          priority: Number(draft.priority) as Task['priority'],
          due_date: fromDateInput(draft.due),
          status: draft.status,
        },
        task.version,
      );
      setTask(t);
      setDraft(toDraft(t));
      toast('Saved');
      back();
    } catch (err) {
      const ae = err instanceof ApiError ? err : new ApiError(0, String(err));
      if (ae.status === 412) {
        setStale(true);
        setError('This task was changed somewhere else. Reload it to see the latest version, then make your change again.');
      } else {
        setFields(ae.fields);
        if (!Object.keys(ae.fields).length) setError(ae.message);
      }
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    if (!task) return;
    try {
      await api.deleteTask(task.id);
      toast(`Deleted “${task.title}”`);
      back();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }

  const set = (k: keyof Draft) => (e: Event) => {
    const el = e.currentTarget as HTMLInputElement;
    setDraft((d) => d && { ...d, [k]: el.type === 'checkbox' ? el.checked : el.value });
  };
  const fieldError = (name: string, label: string) =>
    fields[name] && (
      <p class="field-error" id={`${name}-error`}>
        {label} {fields[name]}
      </p>
    );
  const aria = (name: string) => (fields[name] ? { 'aria-invalid': 'true' as const, 'aria-describedby': `${name}-error` } : {});

  return (
    <main class="page narrow">
      <p>
        <Link href={lastListUrl}>← All tasks</Link>
      </p>
      <h1 tabIndex={-1} ref={heading}>
        Edit task
      </h1>
      {state === 'loading' && <p class="empty">Loading…</p>}
      {state === 'missing' && <p class="empty">This task does not exist, or it is not yours.</p>}
      {state === 'deleted' && <p class="empty">This task was deleted.</p>}
      {state === 'error' && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {state === 'ready' && task && draft && (
        <form
          class="card detail"
          onSubmit={save}
          noValidate
          aria-busy={busy}
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.preventDefault();
              back();
            } else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
              save(e);
            }
          }}
        >
          {stale && (
            <p class="notice">
              This task was changed somewhere else.{' '}
              <button type="button" class="small" onClick={load}>
                Load the latest version
              </button>
            </p>
          )}
          {error && !stale && (
            <p class="form-error" role="alert">
              {error}
            </p>
          )}
          <div class="field">
            <label for="title">Title</label>
            <input id="title" value={draft.title} onInput={set('title')} {...aria('title')} />
            {fieldError('title', 'Title')}
          </div>
          <div class="field">
            <label for="description">Description</label>
            <textarea id="description" rows={5} value={draft.description} onInput={set('description')} {...aria('description')} />
            {fieldError('description', 'Description')}
          </div>
          <div class="row">
            <div class="field">
              <label for="category">Category</label>
              <input id="category" value={draft.category} onInput={set('category')} {...aria('category')} />
              {fieldError('category', 'Category')}
            </div>
            <div class="field">
              <label for="priority">Priority</label>
              <select id="priority" value={draft.priority} onChange={set('priority')} {...aria('priority')}>
                <option value="3">High</option>
                <option value="2">Medium</option>
                <option value="1">Low</option>
              </select>
              {fieldError('priority', 'Priority')}
            </div>
            <div class="field">
              <label for="due">Due date</label>
              <input id="due" type="date" value={draft.due} onInput={set('due')} {...aria('due_date')} />
              {fieldError('due_date', 'Due date')}
            </div>
          </div>
          <label class="check-label">
            <input type="checkbox" checked={draft.status} onChange={set('status')} /> Done
          </label>
          <p class="muted small-text">
            Created {fmtDate(task.created_at)} · changed {fmtDate(task.updated_at)}
            {task.completed_at && ` · done ${fmtDate(task.completed_at)}`}
          </p>
          <div class="buttons">
            <button class="primary" type="submit" disabled={busy}>
              Save
            </button>
            <button type="button" onClick={back}>
              Cancel
            </button>
            <span class="spacer" />
            {confirming ? (
              <>
                <button type="button" class="danger" onClick={remove}>
                  Confirm delete
                </button>
                <button type="button" onClick={() => setConfirming(false)}>
                  Keep
                </button>
              </>
            ) : (
              <button type="button" class="danger-outline" onClick={() => setConfirming(true)}>
                Delete
              </button>
            )}
          </div>
        </form>
      )}
    </main>
  );
}
