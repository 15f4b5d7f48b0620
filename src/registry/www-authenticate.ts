/** One challenge of a `WWW-Authenticate` header (RFC 7235), e.g. `Bearer realm="…",service="…",scope="…"`. */
export interface AuthChallenge {
  /** Lower-case scheme: `bearer`, `basic`, … */
  readonly scheme: string;
  /** Parameters, keys lower-cased. */
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses a `WWW-Authenticate` header into its challenges. Quoted values may hold commas and escaped
 * quotes (registries put `scope="repository:a:pull,push"` there).
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  const re = /\s*(?:([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)|([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*))\s*,?/y;
  let i = 0;
  while (i < header.length) {
    re.lastIndex = i;
    const m = re.exec(header);
    if (!m || m[0].length === 0) break;
    i = re.lastIndex;
    if (m[3] !== undefined) {
      // A token not followed by `=` starts a new challenge (or is a token68 we do not need).
      out.push({ scheme: m[3].toLowerCase(), params: {} });
    } else if (out.length) {
      const raw = m[2]!;
      out[out.length - 1]!.params[m[1]!.toLowerCase()] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    }
  }
  return out;
}
