// Form checks done before anything is sent, with the server's rules and, where
// it helps, its words (projectapi.ValidName, vcapi validateName/parseSleepAfter,
// Kubernetes label rules).

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A DNS-1123 label's problem, or undefined: at most 63 lower-case letters, digits and '-', alphanumeric at both ends. */
export function dnsLabelError(s: string): string | undefined {
  if (s.length > 63) return 'must be no more than 63 characters';
  if (!DNS_LABEL.test(s)) {
    return "must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
  }
  return undefined;
}

/** A project name: its namespace p-<name> must be a DNS label (the CLI's message). */
export function projectNameError(name: string): string | undefined {
  if (!name) return 'Enter a name.';
  const e = dnsLabelError('p-' + name);
  return e ? `project name "${name}": ${e} (use at most 61 lower-case letters, digits and '-')` : undefined;
}

/** A virtual cluster, application or namespace name. */
export function nameError(what: string, name: string): string | undefined {
  if (!name) return 'Enter a name.';
  const e = dnsLabelError(name);
  return e ? `invalid ${what} name "${name}": ${e}` : undefined;
}

export function subdomainError(what: string, name: string): string | undefined {
  if (!name) return `Enter a ${what} name.`;
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) return `"${name}" is not a valid ${what} name (lower-case letters, digits, '-' and '.')`;
  return undefined;
}

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function labelKeyError(k: string): string | undefined {
  const slash = k.indexOf('/');
  const prefix = slash >= 0 ? k.slice(0, slash) : '';
  const name = slash >= 0 ? k.slice(slash + 1) : k;
  if (slash >= 0 && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return `label key "${k}": the prefix must be a DNS subdomain`;
  if (!name || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return `label key "${k}": at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

/**
 * Parses labels typed as "key=value" separated by commas or new lines.
 * Returns the labels or the first problem.
 */
export function parseLabels(text: string): { labels: Record<string, string>; error?: string } {
  const labels: Record<string, string> = {};
  for (const raw of text.split(/[,\n]/)) {
    const part = raw.trim();
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) return { labels, error: `"${part}" is not key=value` };
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    const ke = labelKeyError(k);
    if (ke) return { labels, error: ke };
    if (v.length > 63 || !LABEL_VALUE.test(v)) {
      return { labels, error: `label ${k}: value "${v}" must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit` };
    }
    if (k in labels) return { labels, error: `label ${k} is given twice` };
    labels[k] = v;
  }
  return { labels };
}

/** A Go duration as vcapi takes it ("15m", "1h30m", "90s"); "" and "0" mean never. */
export function durationError(s: string): string | undefined {
  const t = s.trim();
  if (t === '' || t === '0') return undefined;
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(t)) return `"${t}" is not a duration: write it like 15m, 2h or 1h30m`;
  return undefined;
}

/** A quota: empty for no limit, else a whole number ≥ 0. */
export function quotaError(s: string): string | undefined {
  const t = s.trim();
  if (t === '') return undefined;
  if (!/^\d+$/.test(t) || Number(t) > 2147483647) return 'Enter a whole number (0 or more), or leave it empty for no limit.';
  return undefined;
}

export function parseQuota(s: string): number | undefined {
  const t = s.trim();
  return t === '' ? undefined : Number(t);
}

/** An https or http URL with a host and no path (Argo CD's external URL). */
export function urlError(s: string, example = 'https://argocd.example.com'): string | undefined {
  const t = s.trim();
  if (!t) return `Enter a URL such as ${example}.`;
  try {
    const u = new URL(t);
    if ((u.protocol !== 'https:' && u.protocol !== 'http:') || !u.host) return `"${t}" is not a URL like ${example}`;
  } catch {
    return `"${t}" is not a URL like ${example}`;
  }
  return undefined;
}

/** A Git repository URL: https, http, ssh, git, file, or scp-like user@host:path. */
export function repoURLError(s: string): string | undefined {
  const t = s.trim();
  if (!t) return 'Enter the repository URL.';
  if (/\s/.test(t)) return 'A repository URL has no spaces.';
  if (/^(https?|ssh|git|file):\/\/./.test(t) || /^[\w.-]+@[\w.-]+:.+/.test(t)) return undefined;
  return 'Use an https://, ssh://, git://, file:// or user@host:path URL.';
}

/** A path inside the repository: relative, no "..". */
export function repoPathError(s: string): string | undefined {
  const t = s.trim();
  if (t.startsWith('/')) return 'The path is relative to the repository root: no leading /.';
  if (t.split('/').includes('..')) return 'The path may not leave the repository (no ..).';
  return undefined;
}
