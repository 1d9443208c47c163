import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, vi } from 'vitest';
import { App } from '../App';
import { mockFetch } from '../test/fetchmock';
import { validateLogin } from './Login';

afterEach(() => vi.unstubAllGlobals());

describe('login form', () => {
  it('validates before sending', () => {
    expect(validateLogin('', '')).toEqual({ username: 'Enter your user name.', password: 'Enter your password.' });
    expect(validateLogin('a b', 'x').username).toMatch(/no spaces/);
    expect(validateLogin('admin', 'x')).toEqual({});
  });

  it('sends nothing while the form is incomplete, then logs in and goes back', async () => {
    let loggedIn = false;
    const { calls, bodies } = mockFetch((u, init) => {
      if (u.pathname === '/api/v1/session/userinfo') return { body: loggedIn ? { loggedIn: true, username: 'admin' } : { loggedIn: false } };
      if (u.pathname === '/api/v1/session' && init.method === 'POST') {
        const b = JSON.parse(String(init.body));
        if (b.password !== 'secret') return { status: 401, body: { message: 'invalid username or password' } };
        loggedIn = true;
        return { body: { token: 't' } };
      }
      if (u.pathname === '/api/v1/applications') return { body: { items: [] } };
      if (u.pathname === '/api/v1/applications/web') return { body: { metadata: { name: 'web', namespace: 'ns' }, spec: { destination: {} } } };
      if (u.pathname.endsWith('/resource-tree')) return { body: { nodes: [] } };
      return undefined;
    });
    window.history.replaceState(null, '', '/applications/ns/web?tab=history');
    const user = userEvent.setup();
    render(<App />);
    // Not logged in: the login page, remembering where to go back.
    await screen.findByRole('heading', { name: 'Log in' });
    expect(window.location.pathname).toBe('/login');
    expect(new URLSearchParams(window.location.search).get('next')).toBe('/applications/ns/web?tab=history');

    await user.click(screen.getByRole('button', { name: 'Log in' }));
    expect(screen.getByText('Enter your user name.')).toBeTruthy();
    expect(screen.getByText('Enter your password.')).toBeTruthy();
    expect(screen.getByLabelText('User name')).toHaveProperty('ariaInvalid', 'true');
    expect(calls.filter((c) => c === 'POST /api/v1/session')).toHaveLength(0);

    await user.type(screen.getByLabelText('User name'), 'admin');
    await user.type(screen.getByLabelText('Password'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Log in' }));
    expect((await screen.findByRole('alert')).textContent).toContain('invalid username or password');
    expect(bodies[calls.indexOf('POST /api/v1/session')]).toEqual({ username: 'admin', password: 'wrong' });

    await user.type(screen.getByLabelText('Password'), 'secret');
    await user.keyboard('{Enter}');
    await waitFor(() => expect(window.location.pathname).toBe('/applications/ns/web'));
    expect(window.location.search).toBe('?tab=history');
    await screen.findByRole('heading', { name: 'web', level: 1 });
    expect(screen.getByRole('navigation', { name: 'Main' }).textContent).toContain('Virtual clusters');
  });
});

describe('single sign-on', () => {
  it('offers "Sign in with <provider>" when gantry has one, returning to where the user was going', async () => {
    mockFetch((u) => {
      if (u.pathname === '/api/v1/session/userinfo') return { body: { loggedIn: false } };
      if (u.pathname === '/api/v1/sso/info') return { body: { enabled: true, name: 'Dex', loginURL: '/api/v1/sso/login?return=%2F' } };
      return undefined;
    });
    window.history.replaceState(null, '', '/projects/shop?tab=members');
    render(<App />);
    const link = await screen.findByRole('link', { name: 'Sign in with Dex' });
    const href = new URL(link.getAttribute('href')!, 'http://localhost');
    expect(href.pathname).toBe('/api/v1/sso/login');
    expect(href.searchParams.get('return')).toBe('/projects/shop?tab=members');
  });

  it('shows no SSO button when gantry has none', async () => {
    mockFetch((u) => {
      if (u.pathname === '/api/v1/session/userinfo') return { body: { loggedIn: false } };
      if (u.pathname === '/api/v1/sso/info') return { body: { enabled: false } };
      return undefined;
    });
    render(<App />);
    await screen.findByRole('heading', { name: 'Log in' });
    await new Promise((r) => setTimeout(r, 50));
    expect(screen.queryByRole('link', { name: /Sign in with/ })).toBeNull();
  });
});
