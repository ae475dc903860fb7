import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, tz } from './api';
import { useLive } from './live';
import { Link } from './router';
import type { Counts, Overview, Task } from './types';
import { fmtDate, PRIORITIES, useDebounced, useScreen } from './util';

export function Dashboard() {
  const heading = useScreen('Dashboard');
  const [ov, setOv] = useState<Overview | null>(null);
  const [error, setError] = useState('');

  async function load() {
    try {
      setOv(await api.overview());
      setError('');
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  }
  const reloadSoon = useDebounced(load, 300);
  useEffect(() => {
    load();
  }, []);
  useLive((e) => {
    if (e.type === 'hello') load();
    else if (e.type === 'stats.updated') {
      setOv((o) => o && { ...o, stats: e.data });
      reloadSoon();
    } else reloadSoon();
  });

  const st = ov?.stats;
  return (
    <main class="page">
      <h1 tabIndex={-1} ref={heading}>
        Dashboard
      </h1>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {!ov && !error && <p class="empty">Loading…</p>}
      {ov && st && (
        <>
          <section class="cards" aria-label="Totals">
            <Stat id="total" label="Total" value={st.total_tasks} />
            <Stat id="pending" label="Pending" value={st.pending_tasks} />
            <Stat id="completed" label="Completed" value={st.completed_tasks} />
            <Stat id="rate" label="Completion rate" value={`${st.completion_rate}%`} />
            <Stat id="overdue" label="Overdue" value={st.overdue_tasks} warn={st.overdue_tasks > 0} />
          </section>
          <section class="card">
            <h2 id="chart-heading">Completed per day</h2>
            <p class="muted small-text">Last 14 days, {tz}</p>
            <Chart days={ov.completed_per_day} />
          </section>
          <div class="grid2">
            <section class="card">
              <h2>By priority</h2>
              <Breakdown
                rows={([3, 2, 1] as const).map((p) => {
                  const c: Counts = st.by_priority[(['', 'low', 'medium', 'high'] as const)[p] as 'low' | 'medium' | 'high'];
                  return { label: PRIORITIES[p], ...c };
                })}
                testid="by-priority"
              />
            </section>
            <section class="card">
              <h2>By category</h2>
              {st.by_category.length === 0 ? (
                <p class="muted">No tasks yet.</p>
              ) : (
                <Breakdown rows={st.by_category.map((c) => ({ label: c.category ?? 'Uncategorized', total: c.total, completed: c.completed }))} testid="by-category" />
              )}
            </section>
            <section class="card">
              <h2>Upcoming</h2>
              <TaskLinks tasks={ov.upcoming_tasks} empty="Nothing due." due />
            </section>
            <section class="card">
              <h2>Recently changed</h2>
              <TaskLinks tasks={ov.recent_tasks} empty="No tasks yet." />
            </section>
          </div>
        </>
      )}
    </main>
  );
}

function Stat(props: { id: string; label: string; value: number | string; warn?: boolean }) {
  return (
    <div class={props.warn ? 'card stat warn' : 'card stat'} data-testid={`stat-${props.id}`}>
      <span class="stat-value">{props.value}</span>
      <span class="stat-label">{props.label}</span>
    </div>
  );
}

function Breakdown(props: { rows: Array<{ label: string; total: number; completed: number }>; testid: string }) {
  return (
    <table class="breakdown" data-testid={props.testid}>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Done</th>
          <th scope="col">Total</th>
          <th scope="col" class="bar-col">
            <span class="sr-only">Progress</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((r) => (
          <tr key={r.label}>
            <th scope="row">{r.label}</th>
            <td>{r.completed}</td>
            <td>{r.total}</td>
            <td class="bar-col">
              <svg viewBox="0 0 100 8" preserveAspectRatio="none" class="bar" aria-hidden="true">
                <rect class="bar-bg" x="0" y="0" width="100" height="8" rx="4" />
                {r.total > 0 && <rect class="bar-fg" x="0" y="0" width={(100 * r.completed) / r.total} height="8" rx="4" />}
              </svg>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Chart(props: { days: Array<{ date: string; count: number }> }) {
  const days = props.days;
  const max = Math.max(1, ...days.map((d) => d.count));
  const W = 560;
  const H = 180;
  const top = 18;
  const bottom = 26;
  const step = W / Math.max(1, days.length);
  const bw = step * 0.62;
  const total = days.reduce((n, d) => n + d.count, 0);
  const label = (date: string) => {
    const [y, m, d] = date.split('-').map(Number);
    return new Date(y, m - 1, d);
  };
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-title" data-testid="chart">
        <title id="chart-title">{`${total} tasks completed in the last ${days.length} days`}</title>
        <line class="axis" x1="0" x2={W} y1={H - bottom + 0.5} y2={H - bottom + 0.5} />
        {days.map((d, i) => {
          const h = ((H - top - bottom) * d.count) / max;
          const x = i * step + (step - bw) / 2;
          const day = label(d.date);
          return (
            <g key={d.date} class="day">
              <title>{`${day.toLocaleDateString(undefined, { weekday: 'short', month: 'short', day: 'numeric' })}: ${d.count} completed`}</title>
              <rect class={d.count ? 'col' : 'col zero'} x={x} y={H - bottom - Math.max(h, 2)} width={bw} height={Math.max(h, 2)} rx="3" />
              {d.count > 0 && (
                <text class="count" x={x + bw / 2} y={H - bottom - h - 5} text-anchor="middle">
                  {d.count}
                </text>
              )}
              <text class="tick" x={x + bw / 2} y={H - 8} text-anchor="middle">
                {day.getDate()}
              </text>
            </g>
          );
        })}
      </svg>
      <table class="sr-only">
        <caption>Tasks completed per day</caption>
        <tbody>
          {days.map((d) => (
            <tr key={d.date}>
              <th scope="row">{d.date}</th>
              <td>{d.count}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

function TaskLinks(props: { tasks: Task[]; empty: string; due?: boolean }) {
  if (!props.tasks.length) return <p class="muted">{props.empty}</p>;
  return (
    <ul class="links">
      {props.tasks.map((t) => (
        <li key={t.id}>
          <Link href={`/tasks/${t.id}`} class={t.status ? 'done-text' : undefined}>
            {t.title}
          </Link>
          {props.due && t.due_date && <span class="muted"> · {fmtDate(t.due_date)}</span>}
        </li>
      ))}
    </ul>
  );
}
