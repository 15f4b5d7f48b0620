/** One problem in a stack file: where (field path), what (the value) and which rule it breaks. */
export interface ConfigIssue {
  readonly path: readonly (string | number)[];
  /** 1-based line and column in the file, for problems of the file itself (YAML syntax, tags, aliases). */
  readonly at?: { readonly line: number; readonly col: number };
  readonly value?: unknown;
  readonly message: string;
}

/** Renders a field path the way users write it: `tagflow:environment.apps[1].name`. */
export function formatPath(path: readonly (string | number)[], root = 'tagflow:environment'): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : `${acc}.${p}`), root);
}

function formatValue(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** Invalid configuration: exit code 2, one line per issue, nothing written. */
export class ConfigError extends Error {
  public readonly exitCode = 2;
  constructor(
    public readonly file: string,
    public readonly issues: readonly ConfigIssue[],
  ) {
    super(issues.map((i) => (i.at ? `${file}:${i.at.line}:${i.at.col}: ${i.message}` : `${file}: ${formatPath(i.path)}: ${i.value === undefined ? '' : `${formatValue(i.value)} `}${i.message}`)).join('\n'));
    this.name = 'ConfigError';
  }
}
