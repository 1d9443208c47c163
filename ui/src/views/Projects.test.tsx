import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, vi } from 'vitest';
import type { Project } from '../api/types';
import { mockFetch } from '../test/fetchmock';
import { MembersView } from './Members';
import { ProjectListView } from './Projects';

afterEach(() => vi.unstubAllGlobals());

const project = (name: string, extra: Partial<Project> = {}): Project => ({
  name, namespace: 'p-' + name, members: [], quotas: {}, allowedDestinations: [], conditions: [], created: new Date().toISOString(),
  usage: { virtualClusters: 1, runningVirtualClusters: 1, applications: 2 }, ...extra,
});

describe('projects', () => {
  it('create: validated as the server does, nothing sent until valid, then the new project opens', async () => {
    const { calls, bodies } = mockFetch((u, init) =>
      u.pathname === '/api/v1/projects' && init.method === 'POST' ? { status: 201, body: project('shop') } : undefined,
    );
    const user = userEvent.setup();
    render(<ProjectListView projects={[project('default')]} />);
    expect(within(screen.getByRole('table')).getByRole('link', { name: 'default' }).getAttribute('href')).toBe('/projects/default');
    await user.click(screen.getByRole('button', { name: 'New project' }));
    const dialog = screen.getByRole('dialog', { name: 'New project' });
    expect(document.activeElement).toBe(within(dialog).getByLabelText('Name'));
    await user.click(within(dialog).getByRole('button', { name: 'Create project' }));
    expect(within(dialog).getByText('Enter a name.')).toBeTruthy();
    await user.type(within(dialog).getByLabelText('Name'), 'Shop_1');
    await user.click(within(dialog).getByRole('button', { name: 'Create project' }));
    expect(within(dialog).getByText(/project name "Shop_1": must consist of lower case/)).toBeTruthy();
    expect(calls).toHaveLength(0);
    await user.clear(within(dialog).getByLabelText('Name'));
    await user.type(within(dialog).getByLabelText('Name'), 'shop');
    await user.type(within(dialog).getByLabelText('Display name'), 'The shop');
    await user.keyboard('{Enter}');
    await waitFor(() => expect(window.location.pathname).toBe('/projects/shop'));
    expect(bodies[0]).toEqual({ name: 'shop', displayName: 'The shop', description: '' });
  });

  it("delete asks for the name and shows the server's refusal", async () => {
    mockFetch((_u, init) =>
      init.method === 'DELETE' ? { status: 403, body: { message: 'permission denied: alice cannot delete projects shop' } } : undefined,
    );
    const user = userEvent.setup();
    render(<ProjectListView projects={[project('shop')]} />);
    await user.click(screen.getByRole('button', { name: 'Delete project shop' }));
    const dialog = screen.getByRole('dialog');
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));
    expect(within(dialog).getByText('Type shop to confirm.')).toBeTruthy();
    await user.type(within(dialog).getByLabelText(/to confirm/), 'shop');
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));
    expect((await within(dialog).findByRole('alert')).textContent).toContain('Delete refused (403): permission denied: alice cannot delete projects shop');
  });

  it('members: add a team with a role, errors in words, remove', async () => {
    const { calls, bodies } = mockFetch((_u, init) => {
      if (init.method === 'POST') {
        const b = JSON.parse(String(init.body));
        if (b.name === 'nobody') return { status: 404, body: { message: 'user nobody does not exist: create it first (POST /api/v1/users), then add it' } };
        return { body: project('shop', { members: [b] }) };
      }
      if (init.method === 'DELETE') return { body: project('shop') };
      return undefined;
    });
    const changed: Project[] = [];
    const user = userEvent.setup();
    const { rerender } = render(<MembersView project={project('shop')} onChanged={(p) => changed.push(p)} />);
    await user.type(screen.getByLabelText('User'), 'nobody');
    await user.click(screen.getByRole('button', { name: 'Add member' }));
    expect((await screen.findByRole('alert')).textContent).toContain('user nobody does not exist');
    await user.selectOptions(screen.getByLabelText('Kind'), 'Team');
    await user.clear(screen.getByLabelText('Team'));
    await user.type(screen.getByLabelText('Team'), 'ops');
    await user.selectOptions(screen.getByLabelText('Role'), 'project-viewer');
    await user.click(screen.getByRole('button', { name: 'Add member' }));
    await waitFor(() => expect(changed).toHaveLength(1));
    expect(bodies[1]).toEqual({ kind: 'Team', name: 'ops', role: 'project-viewer' });
    rerender(<MembersView project={changed[0]} onChanged={(p) => changed.push(p)} />);
    await user.click(screen.getByRole('button', { name: 'Remove team ops' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Remove' }));
    await waitFor(() => expect(calls).toContain('DELETE /api/v1/projects/shop/members/Team/ops'));
  });
});
