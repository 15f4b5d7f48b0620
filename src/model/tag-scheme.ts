/**
 * Tag schemes: the one definition of the tags CI pushes and Flux selects. A scheme is a template with
 * `{time}` (unix seconds), `{sha}` (git commit sha, lowercase hex) and `{version}` (MAJOR.MINOR.PATCH).
 */
export interface TagInputs {
  readonly time?: number | string;
  readonly sha?: string;
  readonly version?: string;
}

export class TagSchemeError extends Error {}

const PLACEHOLDER = /\{([a-z]+)\}/g;

/** The placeholders a scheme uses. */
export function schemePlaceholders(scheme: string): string[] {
  return [...scheme.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

/** Renders a tag; throws TagSchemeError naming the missing or malformed input. */
export function renderTag(scheme: string, inputs: TagInputs): string {
  return scheme.replace(PLACEHOLDER, (_all, name: string) => {
    switch (name) {
      case 'time': {
        if (inputs.time === undefined) throw new TagSchemeError(`tag scheme '${scheme}' needs {time}: pass --time <unix seconds>`);
        const t = String(inputs.time);
        if (!/^(0|[1-9][0-9]*)$/.test(t)) throw new TagSchemeError(`time '${t}' must be unix seconds (a non-negative integer)`);
        return t;
      }
      case 'sha': {
        if (inputs.sha === undefined) throw new TagSchemeError(`tag scheme '${scheme}' needs {sha}: pass --sha <git sha>`);
        const s = inputs.sha.toLowerCase();
        if (!/^[0-9a-f]{7,64}$/.test(s)) throw new TagSchemeError(`sha '${inputs.sha}' must be 7 to 64 hexadecimal characters`);
        return s;
      }
      case 'version': {
        if (inputs.version === undefined) throw new TagSchemeError(`tag scheme '${scheme}' needs {version}: pass --version <X.Y.Z>`);
        const v = inputs.version.replace(/^v/, '');
        if (!/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.test(v)) {
          throw new TagSchemeError(`version '${inputs.version}' must be MAJOR.MINOR.PATCH without leading zeros`);
        }
        return v;
      }
      default:
        throw new TagSchemeError(`tag scheme '${scheme}' has unknown placeholder {${name}} (known: {time}, {sha}, {version})`);
    }
  });
}

/** A tag of the scheme with neutral inputs: what synth writes before Flux has selected a real tag. */
export function placeholderTag(scheme: string): string {
  return renderTag(scheme, { time: 0, sha: '0000000', version: '0.0.0' });
}
