import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Me } from './api';

export interface SessionValue {
  me: Me;
  /** A fresh sign-in asking for every factor (prompt=login), back to this screen. */
  signInAgain: () => void;
}

export const Session = createContext<SessionValue | undefined>(undefined);

export function useSession(): SessionValue {
  const s = useContext(Session);
  if (!s) throw new Error('useSession outside the signed-in console');
  return s;
}
