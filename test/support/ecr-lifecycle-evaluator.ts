/**
 * An evaluator of Amazon ECR lifecycle policies, written from AWS's documentation (not from tagflow's code),
 * to check the policies tagflow generates against image histories. The rules implemented, as AWS states them:
 *
 * docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html ("Lifecycle policy evaluation rules"):
 *  R1 "An image is expired by exactly one or zero rules."
 *  R2 "An image that matches the tagging requirements of a higher priority rule cannot be expired by a rule
 *     with a lower priority."
 *  R3 "Rules can never mark images that are marked by higher priority rules, but can still identify them as
 *     if they haven't been expired." (a count rule counts them among its newest)
 *  R4 "Expiration is always ordered by pushed_at_time, and always expires older images before newer ones."
 *  R5 "When using the tagPrefixList, an image is successfully matched if all of the tags in the tagPrefixList
 *     value are matched against any of the image's tags." (tagPatternList likewise, by wildcard)
 *  R6 "With countType = imageCountMoreThan, images are sorted from youngest to oldest based on pushed_at_time
 *     and then all images greater than the specified count are expired."
 *  R7 "With countType = sinceImagePushed, all images whose pushed_at_time is older than the specified number
 *     of days based on countNumber are expired."
 * docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html:
 *  P1 rulePriority: "Sets the order in which rules are applied, lowest to highest."
 *  P2 tagPatternList: "image tag patterns that may contain wildcards (*) ... if your images are tagged as prod,
 *     prod1, prod2, and so on, you would use the tag pattern list prod* ... If you specify multiple tags, only
 *     the images with all specified tags are selected." "There is a maximum limit of four wildcards (*) per string."
 *  P3 tagStatus: "tagged, untagged, or any. If you specify any, then all images have the rule evaluated against them."
 *
 * Two facts the rules above rely on, from elsewhere:
 *  F1 pushed_at_time is the first push of a digest: adding a tag to an existing image does not change it
 *     (aws/containers-roadmap#2746 asks for exactly that change). Histories here never update it.
 *  F2 ECR refuses to delete an image an image index still references (BatchDeleteImage failure code
 *     ImageReferencedByManifestList, in @aws-sdk/client-ecr's model); the evaluator keeps such children.
 *     That lifecycle expiry obeys the same constraint is NOT stated in AWS's lifecycle pages; it is an
 *     assumption, and the option `expireReferencedChildren` evaluates the worst case instead.
 */
export interface EcrImage {
  readonly digest: string;
  readonly tags: string[];
  /** Milliseconds since the epoch of the first push of this digest. */
  readonly pushedAt: number;
  /** Digests an image index references (its platform manifests, attestations). */
  readonly children?: readonly string[];
}

export interface EvaluatedRule {
  readonly rulePriority: number;
  readonly selection: {
    readonly tagStatus: 'tagged' | 'untagged' | 'any';
    readonly tagPatternList?: readonly string[];
    readonly tagPrefixList?: readonly string[];
    readonly countType: 'imageCountMoreThan' | 'sinceImagePushed';
    readonly countUnit?: 'days';
    readonly countNumber: number;
  };
  readonly action: { readonly type: 'expire' };
}

const DAY = 86_400_000;

/** P2: `*` matches any run of characters, the rest literally, over the whole tag. */
export function wildcardMatch(pattern: string, tag: string): boolean {
  const stars = pattern.split('*');
  if (stars.length - 1 > 4) throw new Error(`tag pattern '${pattern}' has more than four wildcards (ECR rejects the policy)`);
  if (stars.length === 1) return pattern === tag;
  if (!tag.startsWith(stars[0]!) || !tag.endsWith(stars[stars.length - 1]!) || tag.length < stars[0]!.length + stars[stars.length - 1]!.length) return false;
  let at = stars[0]!.length;
  const end = tag.length - stars[stars.length - 1]!.length;
  for (const part of stars.slice(1, -1)) {
    const i = tag.indexOf(part, at);
    if (i < 0 || i + part.length > end) return false;
    at = i + part.length;
  }
  return true;
}

/** P3, R5, P2: does the rule's selection match the image? */
export function selects(rule: EvaluatedRule, image: EcrImage): boolean {
  const s = rule.selection;
  if (s.tagStatus === 'any') return true;
  if (s.tagStatus === 'untagged') return image.tags.length === 0;
  if (image.tags.length === 0) return false;
  if (s.tagPatternList) return s.tagPatternList.every((p) => image.tags.some((t) => wildcardMatch(p, t)));
  if (s.tagPrefixList) return s.tagPrefixList.every((p) => image.tags.some((t) => t.startsWith(p)));
  throw new Error('a tagged rule needs tagPatternList or tagPrefixList');
}

export interface Evaluation {
  /** Digest → priority of the rule that expires it. */
  readonly expired: Map<string, number>;
}

/** The images a lifecycle policy expires now. */
export function evaluateLifecycle(policy: { rules: readonly EvaluatedRule[] }, images: readonly EcrImage[], now: number, opts: { expireReferencedChildren?: boolean } = {}): Evaluation {
  const rules = [...policy.rules].sort((a, b) => a.rulePriority - b.rulePriority); // P1
  if (new Set(rules.map((r) => r.rulePriority)).size !== rules.length) throw new Error('rulePriority values must be unique');
  // R2: the highest-priority rule whose tagging requirements an image matches is the only one that may expire it.
  const owner = new Map(images.map((img) => [img.digest, rules.find((r) => selects(r, img))?.rulePriority]));
  const expired = new Map<string, number>();
  for (const rule of rules) {
    // R3: a rule identifies every image it selects, also those a higher rule owns or expired.
    const matched = images.filter((img) => selects(rule, img)).sort((a, b) => b.pushedAt - a.pushedAt); // R4, R6: youngest first
    const candidates =
      rule.selection.countType === 'imageCountMoreThan'
        ? matched.slice(rule.selection.countNumber) // R6
        : matched.filter((img) => now - img.pushedAt > rule.selection.countNumber * DAY); // R7
    for (const img of candidates) {
      if (owner.get(img.digest) === rule.rulePriority && !expired.has(img.digest)) expired.set(img.digest, rule.rulePriority); // R1, R2
    }
  }
  if (!opts.expireReferencedChildren) {
    // F2: children of an index that stays are not deleted.
    const staying = images.filter((img) => !expired.has(img.digest));
    for (const img of staying) for (const c of img.children ?? []) expired.delete(c);
  }
  return { expired };
}
