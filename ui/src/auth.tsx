// Who is logged in. The session itself is an HttpOnly cookie the UI never sees:
// GET /api/v1/session/userinfo says whether there is one.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, setUnauthorizedHandler } from './api/client';
import type { UserInfo } from './api/types';
import { navigate } from './router';

interface Auth {
  /** undefined while the first userinfo is pending. */
  user: UserInfo | undefined;
  /** userinfo failed (gantry unreachable): shown instead of a login loop. */
  error: unknown;
  login: (username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  /** The session ended (a 401): go to the login page, then come back here. */
  expired: () => void;
}

const AuthContext = createContext<Auth | null>(null);

export function loginURL(): string {
  const here = window.location.pathname + window.location.search;
  return here.startsWith('/login') ? here : '/login?next=' + encodeURIComponent(here);
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<UserInfo | undefined>();
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    api
      .userinfo()
      .then(setUser)
      .catch((e) => setError(e));
  }, []);

  const expired = useCallback(() => {
    setUser({ loggedIn: false });
    navigate(loginURL(), { replace: true });
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(expired);
  }, [expired]);

  const login = useCallback(async (username: string, password: string) => {
    await api.login(username, password);
    const u = await api.userinfo();
    setError(undefined);
    setUser(u.loggedIn ? u : { loggedIn: true, username });
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      setUser({ loggedIn: false });
      navigate('/login', { replace: false });
    }
  }, []);

  const value = useMemo(() => ({ user, error, login, logout, expired }), [user, error, login, logout, expired]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const a = useContext(AuthContext);
  if (!a) throw new Error('useAuth outside AuthProvider');
  return a;
}
