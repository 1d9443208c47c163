// JSON values as YAML, for showing manifests (read-only: no anchors, no tags).
const plain = /^[A-Za-z_/.][A-Za-z0-9_ ./@:-]*$/;
const reserved = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  if (s === '' || !plain.test(s) || reserved.test(s) || /: |\s$|:$/.test(s) || /^[-+]?[0-9.]/.test(s)) {
    return JSON.stringify(s);
  }
  return s;
}

function key(k: string): string {
  return scalar(k);
}

function block(s: string, indent: string): string {
  const chomp = s.endsWith('\n') ? '' : '-';
  const body = s.endsWith('\n') ? s.slice(0, -1) : s;
  return `|${chomp}\n` + body.split('\n').map((l) => (l ? indent + l : '')).join('\n');
}

function emit(v: unknown, indent: string, out: string[], prefix: string) {
  if (Array.isArray(v)) {
    if (v.length === 0) {
      out.push(prefix + '[]');
      return;
    }
    if (prefix) out.push(prefix.trimEnd());
    for (const item of v) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length) {
        const lines: string[] = [];
        emit(item, indent + '  ', lines, '');
        // The first key goes on the "- " line.
        out.push(indent + '- ' + lines[0].slice(indent.length + 2));
        out.push(...lines.slice(1));
      } else emit(item, indent + '  ', out, indent + '- ');
    }
    return;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) {
      out.push(prefix + '{}');
      return;
    }
    if (prefix) out.push(prefix.trimEnd());
    for (const [k, val] of entries) {
      const p = indent + key(k) + ': ';
      if (val !== null && typeof val === 'object' && (Array.isArray(val) ? val.length : Object.keys(val).length)) {
        // Lists under a key are not indented further, as kubectl writes them.
        emit(val, Array.isArray(val) ? indent : indent + '  ', out, p);
      } else emit(val, indent + '  ', out, p);
    }
    return;
  }
  if (typeof v === 'string' && v.includes('\n') && !/^\s/.test(v) && !/[ \t]\n/.test(v)) {
    out.push(prefix + block(v, indent));
    return;
  }
  out.push(prefix + scalar(v));
}

export function toYaml(v: unknown): string {
  const out: string[] = [];
  emit(v, '', out, '');
  return out.join('\n') + '\n';
}

/** A manifest string from the API (JSON) as YAML; anything else is returned as is. */
export function manifestYaml(json: string | undefined): string {
  if (!json) return '';
  try {
    return toYaml(JSON.parse(json));
  } catch {
    return json;
  }
}

/**
 * A live object (Argo CD's /resource manifest) as YAML, without
 * metadata.managedFields: server bookkeeping, hidden as Argo CD hides it.
 */
export function liveManifestYaml(json: string | undefined): string {
  if (!json) return '';
  try {
    const obj = JSON.parse(json);
    if (obj && typeof obj === 'object' && obj.metadata && typeof obj.metadata === 'object') {
      delete obj.metadata.managedFields;
    }
    return toYaml(obj);
  } catch {
    return json;
  }
}
