/**
 * Size bounds on input before it reaches tagflow's engines, in one place. Each engine is linear in its
 * input (see `npm run fuzz`); these bounds keep "linear" small and memory finite, and turn absurd input
 * into a clear error instead of minutes of work.
 */
export const LIMITS = {
  /** A stack file: a 1,000-app stack with overrides is about 300 KB; 4 MiB is far above any real one. */
  stackFileBytes: 4 * 1024 * 1024,
  /** A string field of `tagflow:environment` outside Helm values: names, URLs, patterns, ranges. */
  fieldLength: 2048,
  /** A string inside Helm `values` (certificates, config blobs are legitimately long). */
  valuesStringLength: 256 * 1024,
  /** YAML alias uses (`*common`, `<<: *common`): hundreds of apps sharing a few anchors fit easily. */
  yamlAliases: 10_000,
  /** Nodes of a stack file with every alias expanded: an alias bomb stops here, a 1,000-app stack is ~100,000. */
  yamlExpandedNodes: 1_000_000,
  /**
   * A Go (RE2) pattern tagflow compiles. Go itself stops nesting at 1,000; re2js parses unbalanced patterns
   * of tens of thousands of characters superlinearly. Real filterTags patterns are under 200 characters.
   */
  regexLength: 4096,
  /** A YAML file `tagflow check` reads: tagflow's largest file is a few KB; Kubernetes objects are at most 1.5 MB. */
  treeFileBytes: 16 * 1024 * 1024,
  /** An OCI tag is at most 128 characters (distribution spec: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`). */
  tagLength: 128,
  /**
   * Tags of one repository. ECR holds at most 20,000 images per repository (default quota); a few tags per
   * image is plenty. Flux lists them all on every scan, so a repository beyond this is a problem anyway.
   */
  tagsPerRepository: 100_000,
  /** Standard input of `tagflow policy eval`, and a `--tags` file: 100,000 tags of 128 characters and change. */
  stdinBytes: 32 * 1024 * 1024,
} as const;

/** A long value cut for an error message. */
export function clip(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}… (${s.length} characters)` : s;
}
