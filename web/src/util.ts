import { useEffect, useRef } from 'preact/hooks';
import type { Task } from './types';

export const PRIORITIES: Record<number, string> = { 1: 'Low', 2: 'Medium', 3: 'High' };

/** "2026-12-24" from an RFC 3339 time, in the browser's zone (for <input type=date>). */
export function toDateInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * The end of that day in the browser's zone, as RFC 3339 (null when empty):
 * a task due today is due today (the server's due=today filter, in the same
 * zone) and becomes overdue only once the day is over.
 */
export function fromDateInput(v: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!m) return null;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59).toISOString();
}

export function fmtDate(iso: string): string {
  const d = new Date(iso);
  const opts: Intl.DateTimeFormatOptions = { month: 'short', day: 'numeric' };
  if (d.getFullYear() !== new Date().getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString(undefined, opts);
}

export function isOverdue(t: Task): boolean {
  return !t.status && !!t.due_date && new Date(t.due_date).getTime() < Date.now();
}

/** Calls fn at most once per ms, after the last call (trailing debounce). */
export function useDebounced(fn: () => void, ms: number) {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return () => {
    clearTimeout(timer.current);
    timer.current = window.setTimeout(() => fnRef.current(), ms);
  };
}

/** Sets the document title and moves focus to the screen's heading, for screen readers. */
export function useScreen(title: string) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · todo`;
  }, [title]);
  useEffect(() => {
    const active = document.activeElement;
    if (!active || active === document.body) ref.current?.focus({ preventScroll: true });
  }, []);
  return ref;
}
