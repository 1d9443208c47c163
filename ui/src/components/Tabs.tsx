// Tabs that are links: the chosen tab is in the URL (back button, shareable).
import { Link } from '../router';

export function LinkTabs({ label, tabs, current }: { label: string; tabs: { id: string; label: string; to: string }[]; current: string }) {
  return (
    <div role="tablist" className="tabs" aria-label={label}>
      {tabs.map((t) => (
        <Link
          key={t.id}
          to={t.to}
          role="tab"
          aria-selected={t.id === current}
          className={'tab' + (t.id === current ? ' active' : '')}
          replace
        >
          {t.label}
        </Link>
      ))}
    </div>
  );
}
