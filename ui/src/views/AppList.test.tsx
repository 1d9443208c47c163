import { act, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { makeApps } from '../test/fixtures';
import { AppListView } from './AppList';

const apps = makeApps(1000);

function rows() {
  return screen.getAllByRole('row').slice(1); // without the header
}

// 1,000 apps re-rendered in jsdom at each click take seconds on a loaded
// two-core machine (5 s, Vitest's default, was overrun there): these tests
// check behaviour; how fast the list paints is bench-ui's (a real browser).
describe('applications list', { timeout: 30_000 }, () => {
  it('renders 1,000 apps, 50 per page, with badges', () => {
    render(<AppListView apps={apps} />);
    expect(rows()).toHaveLength(50);
    expect(screen.getByText('Showing 1–50 of 1000')).toBeTruthy();
    const first = rows()[0];
    expect(within(first).getByRole('link', { name: 'app-0000' }).getAttribute('href')).toBe('/applications/gantry-system/app-0000');
    expect(first.querySelector('[data-status="Synced"]')).toBeTruthy();
    expect(first.querySelector('[data-status="Healthy"]')?.className).toContain('tone-ok');
  });

  it('filters by sync, health and project, and keeps the filter in the URL', async () => {
    const user = userEvent.setup();
    render(<AppListView apps={apps} />);
    await user.click(screen.getByRole('checkbox', { name: /OutOfSync/ }));
    expect(window.location.search).toBe('?sync=OutOfSync');
    expect(screen.getByText(/of 333 \(1000 in all\)/)).toBeTruthy();
    await user.click(screen.getByRole('checkbox', { name: /Degraded/ }));
    await user.click(screen.getByRole('checkbox', { name: /^billing/ }));
    // sync i%3==1, health i%6==2 → none; shows an explanation, not an empty table
    expect(screen.getByText(/No application matches the filters/)).toBeTruthy();
    await user.click(screen.getByRole('checkbox', { name: /Degraded/ }));
    for (const r of rows()) {
      expect(within(r).getByText('billing')).toBeTruthy();
      expect(r.querySelector('[data-status="OutOfSync"]')).toBeTruthy();
    }
    await user.click(screen.getByRole('button', { name: 'Clear all' }));
    expect(window.location.search).toBe('');
    expect(rows()).toHaveLength(50);
  });

  it('searches as one types', async () => {
    render(<AppListView apps={apps} />);
    fireEvent.change(screen.getByLabelText('Search applications'), { target: { value: 'app-0123' } });
    await act(() => new Promise((r) => setTimeout(r, 200)));
    expect(rows()).toHaveLength(1);
    expect(new URLSearchParams(window.location.search).get('q')).toBe('app-0123');
  });

  it('pages forward and back, with the page in the URL', async () => {
    const user = userEvent.setup();
    render(<AppListView apps={apps} />);
    await user.click(screen.getByRole('link', { name: /Next/ }));
    expect(window.location.search).toBe('?page=2');
    expect(screen.getByText('Showing 51–100 of 1000')).toBeTruthy();
    await user.click(screen.getByRole('link', { name: /Last/ }));
    expect(screen.getByText('Page 20 of 20')).toBeTruthy();
    await user.selectOptions(screen.getByRole('combobox'), '250');
    expect(screen.getByText('Page 1 of 4')).toBeTruthy();
    expect(rows()).toHaveLength(250);
    // The back button (popstate) restores the previous page.
    window.history.back();
    await act(() => new Promise((r) => setTimeout(r, 50)));
    expect(screen.getByText('Page 20 of 20')).toBeTruthy();
  });

  it('says so when there is no application', () => {
    render(<AppListView apps={[]} />);
    expect(screen.getByText('No applications yet')).toBeTruthy();
  });
});
