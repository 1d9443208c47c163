import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { SSOInfo } from '../api/types';
import { useAuth } from '../auth';
import { ErrorBanner } from '../components/ErrorBanner';
import { navigate, safeNext, useLocation } from '../router';

export interface LoginErrors {
  username?: string;
  password?: string;
}

/**
 * Where "Sign in with <provider>" goes: the server's loginURL (which has
 * ?return=/) with return set to where the user was going.
 */
export function ssoHref(loginURL: string, next: string): string {
  const u = new URL(loginURL, window.location.origin);
  u.searchParams.set('return', next);
  return u.origin === window.location.origin ? u.pathname + u.search : u.toString();
}

/** Checks the form before anything is sent. */
export function validateLogin(username: string, password: string): LoginErrors {
  const e: LoginErrors = {};
  if (!username.trim()) e.username = 'Enter your user name.';
  else if (username.length > 253) e.username = 'A user name has at most 253 characters.';
  else if (/\s/.test(username)) e.username = 'A user name has no spaces.';
  if (!password) e.password = 'Enter your password.';
  return e;
}

export function LoginPage() {
  const { login, user } = useAuth();
  const loc = useLocation();
  const next = safeNext(loc.search.get('next'));
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<LoginErrors>({});
  const [serverError, setServerError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const userRef = useRef<HTMLInputElement>(null);
  const passRef = useRef<HTMLInputElement>(null);
  const [sso, setSSO] = useState<SSOInfo>();

  // Whether to offer single sign-on (needs no credentials; off when it fails).
  useEffect(() => {
    const ctrl = new AbortController();
    api
      .ssoInfo(ctrl.signal)
      .then((i) => setSSO(i))
      .catch(() => {});
    return () => ctrl.abort();
  }, []);

  useEffect(() => {
    document.title = 'Log in · gantry';
    userRef.current?.focus();
  }, []);

  // Already logged in (a bookmark to /login): go on.
  useEffect(() => {
    if (user?.loggedIn && !busy) navigate(next, { replace: true });
  }, [user, next, busy]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const v = validateLogin(username, password);
    setErrors(v);
    setServerError(undefined);
    if (v.username) return userRef.current?.focus();
    if (v.password) return passRef.current?.focus();
    setBusy(true);
    try {
      await login(username.trim(), password);
      navigate(next, { replace: true });
    } catch (err) {
      setServerError(err);
      setPassword('');
      passRef.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login-page" id="main">
      <form className="login-card" onSubmit={submit} noValidate aria-labelledby="login-title">
        <div className="brand brand-large" aria-hidden="true">
          <span className="brand-mark">g</span> gantry
        </div>
        <h1 id="login-title">Log in</h1>
        <ErrorBanner error={serverError} title="Login failed" />
        <div className="field">
          <label htmlFor="username">User name</label>
          <input
            id="username"
            name="username"
            autoComplete="username"
            ref={userRef}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            aria-invalid={!!errors.username}
            aria-describedby={errors.username ? 'username-error' : undefined}
          />
          {errors.username && (
            <p className="field-error" id="username-error">
              {errors.username}
            </p>
          )}
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete="current-password"
            ref={passRef}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-invalid={!!errors.password}
            aria-describedby={errors.password ? 'password-error' : undefined}
          />
          {errors.password && (
            <p className="field-error" id="password-error">
              {errors.password}
            </p>
          )}
        </div>
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        {sso?.enabled && sso.loginURL && (
          <>
            <p className="login-or" aria-hidden="true">
              <span>or</span>
            </p>
            <a className="btn btn-block" href={ssoHref(sso.loginURL, next)}>
              Sign in with {sso.name || 'single sign-on'}
            </a>
          </>
        )}
      </form>
    </main>
  );
}
