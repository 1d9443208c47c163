// Git revisions as typed in forms.

/** A Git revision as typed: empty (the target revision) or a branch, tag or commit. */
export function validateRevision(rev: string): string | undefined {
  const r = rev.trim();
  if (!r) return undefined;
  if (r.length > 255) return 'A revision has at most 255 characters.';
  if (/\s/.test(r)) return 'A revision has no spaces.';
  if (/\.\.|[~^:?*[\\]|@\{|\/$|^-/.test(r)) return 'Not a valid branch, tag or commit name.';
  return undefined;
}
