// Short messages at the bottom of the screen, announced to screen readers.
import { useEffect, useState } from 'preact/hooks';

interface Toast {
  id: number;
  text: string;
  error: boolean;
}

let seq = 0;
let toasts: Toast[] = [];
const listeners = new Set<(t: Toast[]) => void>();

function emit() {
  listeners.forEach((l) => l(toasts));
}

export function toast(text: string, error = false) {
  const t = { id: ++seq, text, error };
  toasts = [...toasts.slice(-2), t];
  emit();
  setTimeout(() => {
    toasts = toasts.filter((x) => x !== t);
    emit();
  }, error ? 7000 : 3500);
}

export function Toasts() {
  const [list, setList] = useState(toasts);
  useEffect(() => {
    listeners.add(setList);
    return () => void listeners.delete(setList);
  }, []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={t.error ? 'toast error' : 'toast'}>
          {t.text}
        </div>
      ))}
    </div>
  );
}
