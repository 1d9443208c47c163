import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { api } from '../api/client';
import type { OIDCLoginRequest, SSOInfo } from '../api/types';
import { useAuth } from '../auth';
import { ErrorBanner } from '../components/ErrorBanner';
import { leave, navigate, safeNext, useLocation } from '../router';

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

/**
 * The login page: gantry's own login, or, with ?oidc=<id>, an application's
 * sign-in at gantry's OpenID Connect provider (which sends browsers here).
 */
export function LoginPage() {
  const loc = useLocation();
  const oidc = loc.search.get('oidc');
  return oidc === null ? <GantryLogin next={safeNext(loc.search.get('next'))} /> : <OIDCLogin key={oidc} authRequestID={oidc} />;
}

function GantryLogin({ next }: { next: string }) {
  const { login, user } = useAuth();
  const [sso, setSSO] = useState<SSOInfo>();
  const signingIn = useRef(false);

  // Whether to offer single sign-on (needs no credentials; off when it fails).
  useEffect(() => {
    const ctrl = new AbortController();
    api
      .ssoInfo(ctrl.signal)
      .then((i) => setSSO(i))
      .catch(() => {});
    return () => ctrl.abort();
  }, []);

  // Already logged in (a bookmark to /login): go on.
  useEffect(() => {
    if (user?.loggedIn && !signingIn.current) navigate(next, { replace: true });
  }, [user, next]);

  const submit = async (username: string, password: string) => {
    signingIn.current = true;
    try {
      await login(username, password);
      navigate(next, { replace: true });
    } finally {
      signingIn.current = false;
    }
  };
  const button = sso?.enabled && sso.loginURL ? { name: sso.name || 'single sign-on', href: ssoHref(sso.loginURL, next) } : undefined;
  return <LoginForm onSubmit={submit} sso={button} />;
}

/**
 * An application's sign-in: the same form, naming the application. The
 * password goes to the provider, which answers where the browser goes next.
 * A gantry session does not skip it: the provider sent the browser here
 * because it must ask (none, or the application asked prompt=login).
 */
function OIDCLogin({ authRequestID }: { authRequestID: string }) {
  const [req, setReq] = useState<OIDCLoginRequest>();
  const [loadError, setLoadError] = useState<unknown>();

  useEffect(() => {
    const ctrl = new AbortController();
    api.oidcLoginRequest(authRequestID, ctrl.signal).then(setReq, (e) => {
      if (!ctrl.signal.aborted) setLoadError(e);
    });
    return () => ctrl.abort();
  }, [authRequestID]);

  if (!req) {
    return (
      <LoginCard>
        <h1 id="login-title">Log in</h1>
        {loadError ? <ErrorBanner error={loadError} title="Cannot sign in" /> : <p className="muted login-client">Loading…</p>}
      </LoginCard>
    );
  }
  const submit = async (username: string, password: string) => {
    const { redirect } = await api.oidcLogin({ authRequestID, csrf: req.csrf, username, password });
    // Only within gantry: the callback redirects to the application itself.
    const to = new URL(redirect, window.location.href);
    if (to.origin !== window.location.origin) throw new Error(`gantry answered with a redirect to another site (${to.origin})`);
    leave(to.href);
  };
  const sso = req.sso?.enabled && req.sso.loginURL ? { name: req.sso.name || 'single sign-on', href: req.sso.loginURL } : undefined;
  return <LoginForm client={req.client} initialUsername={req.loginHint} onSubmit={submit} sso={sso} />;
}

function LoginCard({ children }: { children: ReactNode }) {
  return (
    <main className="login-page" id="main">
      <div className="login-card">
        <Brand />
        {children}
      </div>
    </main>
  );
}

function Brand() {
  return (
    <div className="brand brand-large" aria-hidden="true">
      <span className="brand-mark">g</span> gantry
    </div>
  );
}

interface LoginFormProps {
  /** The application being signed in to, if any: "to continue to <client>". */
  client?: string;
  initialUsername?: string;
  /** Rejects with what to show; resolves once the browser is on its way. */
  onSubmit: (username: string, password: string) => Promise<void>;
  sso?: { name: string; href: string };
}

function LoginForm({ client, initialUsername = '', onSubmit, sso }: LoginFormProps) {
  const [username, setUsername] = useState(initialUsername);
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<LoginErrors>({});
  const [serverError, setServerError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const userRef = useRef<HTMLInputElement>(null);
  const passRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = client ? `Log in to ${client} · gantry` : 'Log in · gantry';
    (initialUsername ? passRef : userRef).current?.focus();
  }, [client, initialUsername]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const v = validateLogin(username, password);
    setErrors(v);
    setServerError(undefined);
    if (v.username) return userRef.current?.focus();
    if (v.password) return passRef.current?.focus();
    setBusy(true);
    try {
      await onSubmit(username.trim(), password);
      // Busy until the next page replaces this one.
    } catch (err) {
      setBusy(false);
      setServerError(err);
      setPassword('');
      passRef.current?.focus();
    }
  };

  return (
    <main className="login-page" id="main">
      <form className="login-card" onSubmit={submit} noValidate aria-labelledby="login-title">
        <Brand />
        <h1 id="login-title">Log in</h1>
        {client && (
          <p className="login-client">
            to continue to <strong>{client}</strong>
          </p>
        )}
        <ErrorBanner error={serverError} title="Login failed" />
        <div className="field">
          <label htmlFor="username">User name</label>
          <input
            id="username"
            name="username"
            autoComplete="username"
            autoCapitalize="none"
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
        {sso && (
          <>
            <p className="login-or" aria-hidden="true">
              <span>or</span>
            </p>
            <a className="btn btn-block" href={sso.href}>
              Sign in with {sso.name}
            </a>
          </>
        )}
      </form>
    </main>
  );
}
