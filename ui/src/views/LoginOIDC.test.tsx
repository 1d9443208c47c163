import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, vi } from 'vitest';
import { App } from '../App';
import { leave } from '../router';
import { mockFetch, type Route } from '../test/fetchmock';

// jsdom cannot load another page: leave() is where the browser would go.
vi.mock('../router', async (importOriginal) => ({ ...(await importOriginal<typeof import('../router')>()), leave: vi.fn() }));

afterEach(() => {
  vi.unstubAllGlobals();
  vi.mocked(leave).mockClear();
});

const wiki = { authRequestID: 'r1', client: 'Team Wiki', csrf: 'tok-1' };

/** gantry's answers; the browser already has a gantry session (prompt=login sends it here anyway). */
function provider(login: Route, request: object = wiki) {
  return mockFetch((u, init) => {
    if (u.pathname === '/api/v1/session/userinfo') return { body: { loggedIn: true, username: 'admin' } };
    if (u.pathname === '/oidc/login/request' && u.searchParams.get('authRequestID') === 'r1') return { body: request };
    if (u.pathname === '/oidc/login' && init.method === 'POST') return login(u, init);
    return undefined;
  });
}

function open(id = 'r1') {
  window.history.replaceState(null, '', '/login?oidc=' + id);
  render(<App />);
}

describe("an application's sign-in at gantry's OIDC provider", () => {
  it('names the application, checks the form, posts the password with the token and goes where the provider says', async () => {
    const callback = window.location.origin + '/oidc/authorize/callback?id=r1';
    const { calls, bodies } = provider(() => ({ body: { redirect: callback } }));
    const user = userEvent.setup();
    open();
    await screen.findByText('Team Wiki');
    expect(screen.getByRole('heading', { name: 'Log in' })).toBeTruthy();
    expect(screen.getByText(/to continue to/).textContent).toBe('to continue to Team Wiki');

    await user.click(screen.getByRole('button', { name: 'Log in' }));
    expect(screen.getByText('Enter your user name.')).toBeTruthy();
    expect(calls.filter((c) => c.startsWith('POST'))).toHaveLength(0);

    await user.type(screen.getByLabelText('User name'), 'alice');
    await user.type(screen.getByLabelText('Password'), 'secret');
    await user.click(screen.getByRole('button', { name: 'Log in' }));
    await waitFor(() => expect(leave).toHaveBeenCalledWith(callback));
    expect(bodies[calls.indexOf('POST /oidc/login')]).toEqual({ authRequestID: 'r1', csrf: 'tok-1', username: 'alice', password: 'secret' });
    // Not gantry's own login, and a gantry session does not skip the form.
    expect(calls).not.toContain('POST /api/v1/session');
    expect(window.location.pathname + window.location.search).toBe('/login?oidc=r1');
  });

  it("fills in the application's login hint and offers its upstream sign-in as the provider gives it", async () => {
    const sso = { enabled: true, name: 'Company', loginURL: '/api/v1/sso/login?return=%2Foidc%2Flogin%3FauthRequestID%3Dr1' };
    provider(() => undefined, { ...wiki, loginHint: 'bob', sso });
    open();
    const link = await screen.findByRole('link', { name: 'Sign in with Company' });
    expect(link.getAttribute('href')).toBe(sso.loginURL);
    expect(screen.getByLabelText('User name')).toHaveProperty('value', 'bob');
    // Focus moves in an effect after the hint fills the form.
    await waitFor(() => expect(document.activeElement).toBe(screen.getByLabelText('Password')));
  });

  it("shows the provider's refusal and stays", async () => {
    provider(() => ({ status: 401, body: { error: 'invalid username or password', message: 'invalid username or password' } }));
    const user = userEvent.setup();
    open();
    await user.type(await screen.findByLabelText('User name'), 'alice');
    await user.type(screen.getByLabelText('Password'), 'wrong');
    await user.keyboard('{Enter}');
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('Login failed (401): invalid username or password');
    expect(screen.getByLabelText('Password')).toHaveProperty('value', '');
    expect(screen.getByRole('button', { name: 'Log in' })).toHaveProperty('disabled', false);
    expect(leave).not.toHaveBeenCalled();
  });

  it('goes nowhere but gantry', async () => {
    provider(() => ({ body: { redirect: 'https://evil.example.com/cb' } }));
    const user = userEvent.setup();
    open();
    await user.type(await screen.findByLabelText('User name'), 'alice');
    await user.type(screen.getByLabelText('Password'), 'secret');
    await user.keyboard('{Enter}');
    expect((await screen.findByRole('alert')).textContent).toContain('redirect to another site (https://evil.example.com)');
    expect(leave).not.toHaveBeenCalled();
  });

  it('says when the sign-in expired, without a form', async () => {
    const msg = 'this sign-in expired: go back to the application and sign in again';
    mockFetch((u) => {
      if (u.pathname === '/api/v1/session/userinfo') return { body: { loggedIn: false } };
      if (u.pathname === '/oidc/login/request') return { status: 400, body: { error: msg, message: msg } };
      return undefined;
    });
    open('gone');
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('Cannot sign in (400): ' + msg);
    expect(screen.queryByLabelText('User name')).toBeNull();
    // Not sent to gantry's own login either.
    expect(window.location.pathname + window.location.search).toBe('/login?oidc=gone');
  });
});
