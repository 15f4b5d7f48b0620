import { parse as parseSemver } from 'semver';
import { z } from 'zod';
import { semverRangeError } from '../engines/policy/masterminds-semver';

/**
 * Validators for stack-file fields that accepted values their consumers (git, IAM, Helm, registries,
 * Flux) reject. Pure functions returning why a value is bad (or undefined), and zod schemas built from
 * them, to be wired into the environment model (src/model/environment.ts):
 *
 * | validator | schema field(s) |
 * |---|---|
 * | gitBranchName | tiers.<tier>.branch, tiers.<tier>.pushBranch, gitops.mainBranch, ci.githubActions.branches[], ci.buildkite.branches[] |
 * | commitAuthor | gitops.commitAuthor ({name, email}) |
 * | oidcIssuerUrl | cluster.oidcIssuerUrl |
 * | chartOciTag (chartVersion with `_` for `+`) | chart.oci.tag (a chart's OCI tag is its SemVer version) |
 * | chartVersion | any field holding one exact chart version (Chart.yaml `version`) |
 * | chartVersionConstraint | chart.oci.semver, chart.helmRepository.version |
 * | ociTag | apps[].tiers.<tier>.initialTag |
 * | extractTemplate | filterTags.extract (tiers.<tier>, apps[].tiers.<tier>) |
 */

/** Longest branch name accepted: git has no limit, but hosts and ref storage do (GitHub: 255 bytes). */
export const MAX_BRANCH_LENGTH = 255;

/** ASCII control characters (and DEL): never valid in a ref, an author line or a URL. */
const CONTROL = /[\u0000-\u001f\u007f]/;
/** C1 controls and line/paragraph separators, which terminals and git's author line also mangle. */
const UNICODE_CONTROL = /[\u0080-\u009f\u2028\u2029]/;

/**
 * Why `name` is not a branch name git accepts (`git check-ref-format --branch`), or undefined. The rules
 * of git-check-ref-format(1), for `refs/heads/<name>`.
 */
export function gitBranchNameError(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (Buffer.byteLength(name) > MAX_BRANCH_LENGTH) return `must be at most ${MAX_BRANCH_LENGTH} bytes`;
  if (CONTROL.test(name)) return 'must not contain control characters';
  if (name === '@') return "must not be '@' alone";
  if (name.startsWith('-')) return "must not start with '-'";
  const bad = /[ ~^:?*[\\]/.exec(name);
  if (bad) return `must not contain ${JSON.stringify(bad[0])} (git forbids space ~ ^ : ? * [ \\)`;
  if (name.includes('..')) return "must not contain '..'";
  if (name.includes('@{')) return "must not contain '@{'";
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return "must not start or end with '/' or contain '//'";
  if (name.endsWith('.')) return "must not end with '.'";
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return `has a component starting with '.' (${JSON.stringify(part)})`;
    if (part.endsWith('.lock')) return `has a component ending with '.lock' (${JSON.stringify(part)})`;
  }
  return undefined;
}

/** Why a commit author's name or email would break or forge git's `Name <email>` line, or undefined. */
export function commitAuthorError(author: { name: string; email: string }): { field: 'name' | 'email'; message: string } | undefined {
  for (const field of ['name', 'email'] as const) {
    const v = author[field];
    if (v.trim() === '') return { field, message: 'must not be empty' };
    if (v.length > 256) return { field, message: 'must be at most 256 characters' };
    if (CONTROL.test(v) || UNICODE_CONTROL.test(v)) return { field, message: 'must not contain control characters (newlines, tabs, NUL...): they break the commit header' };
    if (/[<>]/.test(v)) return { field, message: "must not contain '<' or '>' (git's author line is 'name <email>')" };
  }
  if (!/^[^\s@]+@[^\s@]+$/.test(author.email)) return { field: 'email', message: 'must be an email address (local@domain, no spaces)' };
  return undefined;
}

/**
 * Why `url` is not an OIDC issuer URL IAM accepts for an OIDC provider, or undefined: https, a host, no
 * wildcard, no query, no fragment, no credentials, at most 255 characters (IAM's limit).
 */
export function oidcIssuerUrlError(url: string): string | undefined {
  if (url.length > 255) return 'must be at most 255 characters (IAM limit for an OIDC provider URL)';
  if (CONTROL.test(url) || /\s/.test(url)) return 'must not contain spaces or control characters';
  if (url.includes('*')) return "must not contain a wildcard '*': IAM trusts one exact issuer";
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'must be a URL';
  }
  if (u.protocol !== 'https:') return 'must be an https:// URL';
  if (!u.hostname) return 'must have a host';
  if (u.username || u.password) return 'must not contain credentials';
  if (u.search || url.includes('?')) return 'must not have a query (?...)';
  if (u.hash || url.includes('#')) return 'must not have a fragment (#...)';
  return undefined;
}

/** Why `v` is not a SemVer 2.0.0 version (no leading 'v', no leading zeros), or undefined. Helm requires one for a chart version. */
export function chartVersionError(v: string): string | undefined {
  if (v.length > 256) return 'must be at most 256 characters';
  // semver.parse normalizes ('v1.2.3' -> 1.2.3, '=1.2.3' -> 1.2.3): only a string it gives back unchanged is SemVer 2.0.0 as written.
  const p = parseSemver(v);
  const written = p ? `${p.version}${p.build.length ? `+${p.build.join('.')}` : ''}` : undefined;
  return written === v ? undefined : 'must be a SemVer 2.0.0 version such as 1.2.3 or 1.2.3-rc.1+build.5 (no leading v or zeros)';
}

/** A chart's OCI tag: its SemVer version, with '+' written as '_' (OCI tags allow no '+', so Helm pushes it so). */
export function chartOciTagError(tag: string): string | undefined {
  return ociTagError(tag) ?? (chartVersionError(tag.replace(/_/g, '+')) ? "must be the chart's SemVer version (with '_' for '+'), e.g. 1.2.3" : undefined);
}

/** Why `c` is not a Masterminds/semver v3 constraint (what Flux and Helm use for chart versions), or undefined. */
export function chartVersionConstraintError(c: string): string | undefined {
  if (c.length > 256) return 'must be at most 256 characters';
  const err = semverRangeError(c);
  return err ? `is not a version constraint (Masterminds/semver v3): ${err}` : undefined;
}

const OCI_TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** Why `tag` is not an OCI tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, the distribution spec), or undefined. */
export function ociTagError(tag: string): string | undefined {
  if (tag.length > 128) return 'must be at most 128 characters (OCI tag)';
  return OCI_TAG.test(tag) ? undefined : 'must be an OCI tag: letters, digits, _ . - and not starting with . or -';
}

/** Why an `extract` template is not usable, or undefined: empty would make every tag's value '' (Flux then picks arbitrarily). */
export function extractTemplateError(t: string): string | undefined {
  if (t === '') return "must not be empty: it would make every candidate ''; omit extract to use the whole tag";
  if (t.length > 1024) return 'must be at most 1024 characters';
  return undefined;
}

/** A zod string schema refined by one of the functions above. */
const refined = (check: (v: string) => string | undefined) =>
  z.string().superRefine((v, ctx) => {
    const message = check(v);
    if (message) ctx.addIssue({ code: 'custom', message });
  });

export const gitBranchName = refined(gitBranchNameError);
export const oidcIssuerUrl = refined(oidcIssuerUrlError);
export const chartVersion = refined(chartVersionError);
export const chartOciTag = refined(chartOciTagError);
export const chartVersionConstraint = refined(chartVersionConstraintError);
export const ociTag = refined(ociTagError);
export const extractTemplate = refined(extractTemplateError);
export const commitAuthor = z.strictObject({ name: z.string(), email: z.string() }).superRefine((a, ctx) => {
  const e = commitAuthorError(a);
  if (e) ctx.addIssue({ code: 'custom', path: [e.field], message: e.message });
});
