import { useState } from 'preact/hooks';
import { api, ApiError } from './api';
import { Link, navigate, safeNext } from './router';
import { setUser } from './session';
import { useScreen } from './util';

export function Auth(props: { mode: 'signin' | 'signup'; next: string | null; expired: boolean }) {
  const signup = props.mode === 'signup';
  const heading = useScreen(signup ? 'Create account' : 'Sign in');
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const next = safeNext(props.next);
  const otherHref = `${signup ? '/signin' : '/signup'}${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`;

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError('');
    setFields({});
    try {
      const res = signup ? await api.signUp(name, email, password) : await api.signIn(email, password);
      setUser(res.user);
      navigate(next, true);
    } catch (err) {
      const ae = err instanceof ApiError ? err : new ApiError(0, String(err));
      setFields(ae.fields);
      if (!Object.keys(ae.fields).length) setError(ae.message);
      setBusy(false);
    }
  }

  const field = (id: string, label: string, type: 'text' | 'email' | 'password', value: string, set: (v: string) => void, autocomplete: string) => (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        name={id}
        type={type as 'text'}
        value={value}
        autocomplete={autocomplete}
        aria-invalid={fields[id] ? 'true' : undefined}
        aria-describedby={fields[id] ? `${id}-error` : undefined}
        onInput={(e) => set(e.currentTarget.value)}
      />
      {fields[id] && (
        <p class="field-error" id={`${id}-error`}>
          {label} {fields[id]}
        </p>
      )}
    </div>
  );

  return (
    <main class="auth">
      <form class="card auth-card" onSubmit={submit} noValidate aria-busy={busy}>
        <h1 tabIndex={-1} ref={heading}>
          {signup ? 'Create your account' : 'Sign in to todo'}
        </h1>
        {props.expired && !error && <p class="notice">Your session has ended. Sign in again to continue.</p>}
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        {signup && field('name', 'Name', 'text', name, setName, 'name')}
        {field('email', 'Email', 'email', email, setEmail, 'email')}
        {field('password', 'Password', 'password', password, setPassword, signup ? 'new-password' : 'current-password')}
        <button class="primary" type="submit" disabled={busy}>
          {busy ? 'Please wait…' : signup ? 'Create account' : 'Sign in'}
        </button>
        <p class="muted">
          {signup ? 'Already have an account? ' : 'New here? '}
          <Link href={otherHref}>{signup ? 'Sign in' : 'Create an account'}</Link>
        </p>
      </form>
    </main>
  );
}
