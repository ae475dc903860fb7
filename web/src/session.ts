// The signed-in user, shared by every screen. undefined while the first
// session check is under way, null when signed out.
import { useEffect, useState } from 'preact/hooks';
import type { User } from './types';

let current: User | null | undefined;
const listeners = new Set<(u: User | null | undefined) => void>();

export function setUser(u: User | null) {
  current = u;
  listeners.forEach((l) => l(u));
}

export function getUser() {
  return current;
}

export function useUser() {
  const [u, setU] = useState(current);
  useEffect(() => {
    listeners.add(setU);
    setU(current);
    return () => void listeners.delete(setU);
  }, []);
  return u;
}
