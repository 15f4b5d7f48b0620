import * as fs from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { LIMITS } from '../limits';
import type { AppTier, ResolvedEnvironment } from '../model/tiers';
import { appRegistryClient, registryClients, type RegistryPoolOptions } from '../registry/clients';
import type { ListedTag, TagSource } from './simulate';

/** A tags file names no repository of the stack, or is not the documented shape: exit 2. */
export class TagsFileError extends Error {
  public readonly exitCode = 2;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

const tag = z.string().min(1).max(LIMITS.tagLength, `an OCI tag has at most ${LIMITS.tagLength} characters`);
const TagsFileSchema = z.record(
  z.string().max(LIMITS.fieldLength),
  z
    .array(z.union([tag, z.strictObject({ tag, digest: z.string().regex(DIGEST, 'must be sha256:<64 hex digits>').optional() })]))
    .max(LIMITS.tagsPerRepository, `a repository has at most ${LIMITS.tagsPerRepository} tags here`),
);

/**
 * `--tags FILE`: YAML or JSON mapping a repository (ECR repository name such as `payments/worker`, or the
 * full image) to its tags, each a string or `{tag, digest}`.
 */
export function tagsFileSource(file: string, environment: ResolvedEnvironment): TagSource {
  let raw: unknown;
  try {
    const size = fs.statSync(file).size;
    if (size > LIMITS.stdinBytes) throw new Error(`it is ${size} bytes; a tags file may be at most ${LIMITS.stdinBytes} (32 MiB)`);
    raw = parse(fs.readFileSync(file, 'utf8'), { prettyErrors: false, maxAliasCount: LIMITS.yamlAliases });
  } catch (e) {
    throw new TagsFileError(`${file}: cannot be read as YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  const parsed = TagsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const where = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') || '(root)';
    throw new TagsFileError(
      `${file}: ${where}: ${i.message}; the file maps a repository to its tags: {"<repository>": ["<tag>", {"tag": "<tag>", "digest": "sha256:…"}]}`,
    );
  }
  const apps = environment.tiers.flatMap((t) => t.apps);
  const known = new Set(apps.flatMap((a) => [a.repository, a.image]));
  const unknown = Object.keys(parsed.data).filter((k) => !known.has(k));
  if (unknown.length) {
    throw new TagsFileError(
      `${file}: ${unknown.map((k) => `'${k}'`).join(', ')} is not a repository of environment '${environment.name}' (its repositories: ${[...new Set(apps.map((a) => a.repository))].sort().join(', ')})`,
    );
  }
  const lookup = (app: AppTier): ListedTag[] | undefined => {
    const entries = parsed.data[app.image] ?? parsed.data[app.repository];
    return entries?.map((e) => (typeof e === 'string' ? { tag: e } : e));
  };
  return {
    name: file,
    async tags(app) {
      const t = lookup(app);
      if (!t) throw new TagsFileError(`${file}: has no tags for repository '${app.repository}' (app '${app.app}'); add "${app.repository}": [...]`);
      return t;
    },
    async digest() {
      return undefined;
    },
  };
}

/**
 * Lists each app's repository through the OCI distribution API: in its own registry (the stack's: ECR or
 * the generic registry), or with `registry` set, in that registry instead (a mirror; `ecr` is the same as
 * unset). ECR hosts get a token from `GetAuthorizationToken`.
 */
export function registrySource(registry?: string, opts: RegistryPoolOptions = {}): TagSource {
  const client = registryClients(opts);
  const own = registry === undefined || registry === 'ecr';
  const clientFor = (app: AppTier) => (own ? appRegistryClient(client, app) : client(registry));
  const cache = new Map<string, Promise<string[]>>();
  return {
    name: own ? "each app's registry" : registry,
    async tags(app) {
      const c = clientFor(app);
      const key = `${c.baseUrl}/${app.repository}`;
      let p = cache.get(key);
      if (!p) {
        p = c.listTags(app.repository);
        cache.set(key, p);
      }
      return (await p).map((tag) => ({ tag }));
    },
    async digest(app, tag) {
      return clientFor(app).resolveDigest(app.repository, tag);
    },
  };
}
