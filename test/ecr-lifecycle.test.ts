import { evaluateLifecycle, selects, wildcardMatch, type EcrImage, type EvaluatedRule } from './support/ecr-lifecycle-evaluator';
import { lifecyclePolicy, schemePattern, KEEP_COUNT, UNTAGGED_DAYS } from '../src/aws/ecr-lifecycle';
import { ownedRepositories } from '../src/aws/environment';
import { loadStack } from '../src/model/load';
import { parseEnvironment } from '../src/model/load';
import { resolveEnvironment, type AppTier, type ResolvedEnvironment } from '../src/model/tiers';
import { renderTag } from '../src/model/tag-scheme';
import { compileGoRegex } from '../src/engines/policy/go-regex';
import { evaluatePolicy, PolicyError } from '../src/engines/policy/evaluate';
import { REPO_ROOT } from './support/tree';
import { prng } from './support/prng';

const DAY = 86_400_000;
const rule = (rulePriority: number, selection: EvaluatedRule['selection']): EvaluatedRule => ({ rulePriority, selection, action: { type: 'expire' } });

describe('the evaluator follows the AWS documentation', () => {
  const now = Date.UTC(2026, 0, 20);
  // lifecycle_policy_examples.html, "Filtering on multiple rules", Example A: "Result: Image A is expired."
  const exampleA: EcrImage[] = [
    { digest: 'A', tags: ['beta-1', 'prod-1'], pushedAt: now - 10 * DAY },
    { digest: 'B', tags: ['beta-2', 'prod-2'], pushedAt: now - 9 * DAY },
    { digest: 'C', tags: ['beta-3'], pushedAt: now - 8 * DAY },
  ];
  test.each([
    ['tagPrefixList', { tagPrefixList: ['prod'] }, { tagPrefixList: ['beta'] }],
    ['tagPatternList', { tagPatternList: ['prod*'] }, { tagPatternList: ['beta*'] }],
  ])('Example A with %s: only image A is expired (B is identified by rule 2 but rule 1 owns it)', (_k, first, second) => {
    const policy = {
      rules: [
        rule(1, { tagStatus: 'tagged', ...first, countType: 'imageCountMoreThan', countNumber: 1 }),
        rule(2, { tagStatus: 'tagged', ...second, countType: 'imageCountMoreThan', countNumber: 1 }),
      ],
    };
    expect([...evaluateLifecycle(policy, exampleA, now).expired]).toEqual([['A', 1]]);
  });

  test('Example B: both rules mark A and B, and both are expired (each once)', () => {
    const images: EcrImage[] = [
      { digest: 'A', tags: ['alpha-1', 'beta-1', 'prod-1'], pushedAt: now - 10 * DAY },
      { digest: 'B', tags: ['alpha-2', 'beta-2', 'prod-2'], pushedAt: now - 9 * DAY },
      { digest: 'C', tags: ['alpha-3', 'beta-3', 'prod-3'], pushedAt: now - 8 * DAY },
    ];
    const policy = {
      rules: [
        rule(1, { tagStatus: 'tagged', tagPrefixList: ['alpha', 'beta'], countType: 'imageCountMoreThan', countNumber: 1 }),
        rule(2, { tagStatus: 'tagged', tagPrefixList: ['prod'], countType: 'imageCountMoreThan', countNumber: 1 }),
      ],
    };
    expect([...evaluateLifecycle(policy, images, now).expired.keys()].sort()).toEqual(['A', 'B']);
  });

  test('wildcards: prod* selects prod, prod1, prod2; several patterns in one rule must all match; at most four *', () => {
    expect(['prod', 'prod1', 'prod2', 'xprod'].map((t) => wildcardMatch('prod*', t))).toEqual([true, true, true, false]);
    expect(wildcardMatch('branch-dev-*-*', 'branch-dev-1700000000-abc1234')).toBe(true);
    expect(wildcardMatch('branch-dev-*-*', 'branch-staging-1700000000-abc1234')).toBe(false);
    const both = rule(1, { tagStatus: 'tagged', tagPatternList: ['beta*', 'prod*'], countType: 'imageCountMoreThan', countNumber: 1 });
    expect(selects(both, exampleA[0]!)).toBe(true);
    expect(selects(both, exampleA[2]!)).toBe(false);
    expect(() => wildcardMatch('a*b*c*d*e*f', 'abcdef')).toThrow(/four wildcards/);
  });

  test('sinceImagePushed expires by age; untagged selects only images without tags; a later push time is kept', () => {
    const images: EcrImage[] = [
      { digest: 'old', tags: [], pushedAt: now - 8 * DAY },
      { digest: 'new', tags: [], pushedAt: now - 2 * DAY },
      { digest: 'tagged', tags: ['x'], pushedAt: now - 30 * DAY },
    ];
    const policy = { rules: [rule(1, { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 7 })] };
    expect([...evaluateLifecycle(policy, images, now).expired.keys()]).toEqual(['old']);
  });
});

interface Deployer {
  readonly who: string;
  readonly appTier: AppTier;
}

interface YearResult {
  /** Every time an image a tier could select (or any release image) was expired, with why. */
  readonly violations: string[];
  readonly expiredTotal: number;
  readonly finalImages: EcrImage[];
  readonly selections: number;
}

/**
 * A year of CI for one repository: builds pushed with the dev tag (some as image indexes with untagged
 * children), a cache manifest re-tagged `buildcache` on every build, staging approvals of recent builds
 * after random delays (so out of push order), a staging rollback now and then, and a release of what staging
 * runs every two weeks (tags added to the very same digest). Each evening the lifecycle policy is evaluated
 * and what it expires is deleted; before that, every expired image is checked against what any tier selects
 * at that moment (Flux's own selection algorithm over the repository's tags) and against the release tags.
 */
function simulateYear(opts: { policy: { rules: EvaluatedRule[] }; dev: AppTier; staging: AppTier; releases: Deployer[]; keepAlso?: (tag: string) => boolean; rollbackDays?: number; seed?: number }): YearResult {
  const rand = prng(opts.seed ?? 7);
  const images = new Map<string, EcrImage>();
  const violations: string[] = [];
  let expiredTotal = 0;
  let selections = 0;
  let serial = 0;
  const t0 = Date.UTC(2026, 0, 1);
  const digest = () => `sha256:${(++serial).toString(16).padStart(64, '0')}`;
  const sha = () => Math.floor(rand() * 0xfffffff).toString(16).padStart(7, '0');
  const deployers: Deployer[] = [
    { who: 'dev', appTier: opts.dev },
    { who: 'staging', appTier: opts.staging },
    ...opts.releases,
  ];
  const selected = (d: Deployer): string | undefined => {
    const tags = [...images.values()].flatMap((i) => i.tags);
    try {
      return evaluatePolicy(tags, { exclusionList: d.appTier.exclusionList, filterTags: d.appTier.filterTags, policy: d.appTier.policy }).latest;
    } catch (e) {
      if (e instanceof PolicyError) return undefined;
      throw e;
    }
  };
  const byTag = (tag: string) => [...images.values()].find((i) => i.tags.includes(tag));
  const releaseFilters = opts.releases.map((r) => compileGoRegex(r.appTier.filterTags.pattern));
  let cache: EcrImage | undefined;
  const pendingApprovals: { digest: string; at: number }[] = [];
  const stagingHistory: string[] = [];
  let version = 0;
  for (let day = 0; day < 365; day++) {
    const weekday = (day + 4) % 7 < 5;
    const builds = weekday ? 2 + Math.floor(rand() * 7) : Math.floor(rand() * 2);
    for (let b = 0; b < builds; b++) {
      const now = t0 + day * DAY + (9 + (8 * (b + rand())) / Math.max(builds, 1)) * 3_600_000;
      const time = Math.floor(now / 1000);
      const tag = renderTag(opts.dev.tagScheme, { time, sha: sha() });
      const children = rand() < 0.25 ? [digest(), digest()] : undefined;
      for (const c of children ?? []) images.set(c, { digest: c, tags: [], pushedAt: now });
      const d = digest();
      images.set(d, { digest: d, tags: [tag], pushedAt: now + 1000 * (5 + Math.floor(rand() * 600)), children });
      // The registry cache: a new manifest under the one mutable tag; the previous one becomes untagged.
      if (cache) cache.tags.splice(0);
      cache = { digest: digest(), tags: ['buildcache'], pushedAt: now };
      images.set(cache.digest, cache);
      if (rand() < 0.5) pendingApprovals.push({ digest: d, at: now + rand() * 3 * DAY });
    }
    const evening = t0 + day * DAY + 20 * 3_600_000;
    for (const p of pendingApprovals.filter((x) => x.at <= evening).sort((x, y) => x.at - y.at)) {
      pendingApprovals.splice(pendingApprovals.indexOf(p), 1);
      const img = images.get(p.digest);
      if (!img) continue;
      img.tags.push(renderTag(opts.staging.tagScheme, { time: Math.floor(p.at / 1000), sha: sha() }));
      stagingHistory.push(p.digest);
    }
    if (opts.rollbackDays && day % 30 === 29 && stagingHistory.length > 20) {
      // Roll staging back to what it ran about `rollbackDays` ago: a new staging tag on that older digest.
      const back = images.get(stagingHistory[Math.max(0, stagingHistory.length - 1 - Math.round(opts.rollbackDays * 2))]!);
      if (back) {
        back.tags.push(renderTag(opts.staging.tagScheme, { time: Math.floor(evening / 1000) - 60, sha: sha() }));
        stagingHistory.push(back.digest);
      }
    }
    if (day % 14 === 13) {
      // tagflow promote: what staging runs, under the next release tag of each reading stack's scheme.
      const running = selected(deployers[1]!);
      const img = running && byTag(running);
      if (img) {
        version++;
        for (const r of opts.releases) img.tags.push(renderTag(r.appTier.tagScheme, { version: `1.${version}.0` }));
      }
    }
    // The lifecycle runs; first check what it would expire.
    const pinned = new Map<string, string>();
    for (const d of deployers) {
      const tag = selected(d);
      if (tag) {
        selections++;
        const img = byTag(tag)!;
        pinned.set(img.digest, `${d.who} runs ${tag}`);
        for (const c of img.children ?? []) pinned.set(c, `child of what ${d.who} runs (${tag})`);
      }
    }
    const { expired } = evaluateLifecycle(opts.policy, [...images.values()], evening);
    for (const [d, priority] of expired) {
      const img = images.get(d)!;
      const why = pinned.get(d) ?? img.tags.find((t) => releaseFilters.some((f) => f.test(t)) || opts.keepAlso?.(t));
      if (why) violations.push(`day ${day}: rule ${priority} expires ${d.slice(-6)} [${img.tags.join(' ')}]: ${why}`);
      images.delete(d);
      expiredTotal++;
    }
  }
  return { violations, expiredTotal, finalImages: [...images.values()], selections };
}

const dev = loadStack(REPO_ROOT, 'dev');
const prod = loadStack(REPO_ROOT, 'prod');
const appTierOf = (env: ResolvedEnvironment, tier: string, repository: string) => env.tiers.find((t) => t.name === tier)?.apps.find((a) => a.repository === repository);

describe('a year of builds, promotions and releases against the generated policy', () => {
  const repos = ownedRepositories(dev);
  test('the example stacks create both example apps', () => {
    expect(repos.map((r) => r.appTier.app)).toEqual(['checkout-api', 'payments-worker']);
  });

  test.each(repos.map((r) => [r.appTier.app, r] as const))('%s: zero release or selectable images expired, old builds and untagged manifests cleaned', (_app, { appTier, tiers }) => {
    const policy = lifecyclePolicy(appTier.repository, tiers)!;
    const releases = [{ who: 'release (prod stack)', appTier: appTierOf(prod, 'release', appTier.repository)! }];
    expect(releases[0]!.appTier).toBeDefined();
    const r = simulateYear({ policy, dev: appTierOf(dev, 'dev', appTier.repository)!, staging: appTierOf(dev, 'staging', appTier.repository)!, releases, rollbackDays: 5 });
    expect(r.violations).toEqual([]);
    expect(r.selections).toBeGreaterThan(700); // dev and release from the first days, staging once approved
    // Cleaning: thousands of builds over the year, a bounded repository at the end.
    expect(r.expiredTotal).toBeGreaterThan(1500);
    const devOnly = r.finalImages.filter((i) => i.tags.length > 0 && i.tags.every((t) => t.startsWith('branch-dev-')));
    expect(devOnly.length).toBeLessThanOrEqual(30);
    const end = Date.UTC(2026, 0, 1) + 365 * DAY;
    const referenced = new Set(r.finalImages.flatMap((i) => i.children ?? []));
    const staleUntagged = r.finalImages.filter((i) => i.tags.length === 0 && !referenced.has(i.digest) && end - i.pushedAt > (UNTAGGED_DAYS + 1) * DAY);
    expect(staleUntagged).toEqual([]);
    const releaseTagged = r.finalImages.filter((i) => i.tags.some((t) => t.startsWith('release-')));
    expect(releaseTagged.length).toBe(26); // every release of the year is still there
  });

  test("the previous policy (newest 30 branch-dev- / branch-staging- by prefix) expires promoted release images in the same year", () => {
    const { appTier } = repos[0]!;
    const previous = {
      rules: [
        rule(1, { tagStatus: 'tagged', tagPrefixList: ['branch-dev-'], countType: 'imageCountMoreThan', countNumber: 30 }),
        rule(2, { tagStatus: 'tagged', tagPrefixList: ['branch-staging-'], countType: 'imageCountMoreThan', countNumber: 30 }),
      ],
    };
    const r = simulateYear({
      policy: previous,
      dev: appTierOf(dev, 'dev', appTier.repository)!,
      staging: appTierOf(dev, 'staging', appTier.repository)!,
      releases: [{ who: 'release (prod stack)', appTier: appTierOf(prod, 'release', appTier.repository)! }],
    });
    expect(r.violations.some((v) => /release-1\.\d+\.0/.test(v))).toBe(true);
  });

  test('the limit of a count, as the README states it: a build approved for staging after 30 newer builds were is not kept', () => {
    const { appTier, tiers } = repos[0]!;
    const policy = lifecyclePolicy(appTier.repository, tiers)!;
    const staging = appTierOf(dev, 'staging', appTier.repository)!;
    const t = Date.UTC(2026, 5, 1);
    const images: EcrImage[] = Array.from({ length: 32 }, (_, i) => ({
      digest: `d${i}`,
      tags: [renderTag(appTierOf(dev, 'dev', appTier.repository)!.tagScheme, { time: t / 1000 + i * 60, sha: 'abc1234' })],
      pushedAt: t + i * 60_000,
    }));
    // Builds 1..31 are approved in order; build 0 (pushed first) is approved last, so staging selects it.
    images.slice(1).forEach((img, i) => img.tags.push(renderTag(staging.tagScheme, { time: t / 1000 + 3600 + i, sha: 'abc1234' })));
    images[0]!.tags.push(renderTag(staging.tagScheme, { time: t / 1000 + 7200, sha: 'abc1234' }));
    const selectedTag = evaluatePolicy(images.flatMap((i) => i.tags), { exclusionList: staging.exclusionList, filterTags: staging.filterTags, policy: staging.policy }).latest;
    expect(images[0]!.tags).toContain(selectedTag);
    expect(evaluateLifecycle(policy, images, t + DAY).expired.has('d0')).toBe(true);
    // 30 newer staging-tagged images: the oldest is the 31st, expired; 29 newer: kept.
    expect(evaluateLifecycle(policy, images.slice(0, 31), t + DAY).expired.has('d0')).toBe(true);
    expect(evaluateLifecycle(policy, images.slice(0, 30), t + DAY).expired.has('d0')).toBe(false);
  });
});

describe('per-app tag schemes', () => {
  // checkout-api builds `dev-<time>-<sha>` for dev, and the prod stack releases it as `v<version>`.
  const ownerRaw = (keepTags?: string[]) =>
    ({
      name: 'dev',
      aws: { accountId: '111122223333', region: 'eu-west-1' },
      cluster: { name: 'c', oidcIssuerUrl: 'https://oidc.eks.eu-west-1.amazonaws.com/id/A', webhookUrl: 'https://hooks.example' },
      gitops: { url: 'https://github.com/acme/gitops', githubApp: { appId: 1, installationOwner: 'acme' } },
      tiers: { dev: {}, staging: { keepImages: 10 } },
      apps: [
        {
          name: 'checkout-api',
          ecr: keepTags ? { keepTags } : {},
          tiers: { dev: { tagScheme: 'dev-{time}-{sha}', filterTags: { pattern: '^dev-(?P<ts>[0-9]+)-[0-9a-f]+$', extract: '$ts' } } },
        },
      ],
    }) as const;
  const reader = resolveEnvironment(
    parseEnvironment(
      {
        name: 'prod',
        aws: { accountId: '444455556666', region: 'eu-west-1' },
        cluster: { name: 'p', oidcIssuerUrl: 'https://oidc.eks.eu-west-1.amazonaws.com/id/B' },
        gitops: { url: 'https://github.com/acme/gitops', githubApp: { appId: 1, installationOwner: 'acme' } },
        tiers: { release: {} },
        apps: [
          {
            name: 'checkout-api',
            ecr: { accountId: '111122223333', create: false },
            tiers: { release: { tagScheme: 'v{version}', filterTags: { pattern: '^v(?P<version>[0-9]+\\.[0-9]+\\.[0-9]+)$', extract: '$version' } } },
          },
        ],
      },
      'prod.yaml',
    ),
  );
  const run = (keepTags?: string[]) => {
    const owner = resolveEnvironment(parseEnvironment(ownerRaw(keepTags), 'dev.yaml'));
    const [{ appTier, tiers }] = ownedRepositories(owner);
    const policy = lifecyclePolicy(appTier.repository, tiers)!;
    return {
      policy,
      result: simulateYear({
        policy,
        dev: appTierOf(owner, 'dev', 'checkout-api')!,
        staging: appTierOf(owner, 'staging', 'checkout-api')!,
        releases: [{ who: 'release (prod stack, v<version>)', appTier: appTierOf(reader, 'release', 'checkout-api')! }],
        rollbackDays: 2,
        seed: 11,
      }),
    };
  };

  test("the app's own dev scheme is the one its rule counts, with the tier's keepImages", () => {
    const { policy } = run(['v*']);
    expect(policy.rules.map((r) => ('tagPatternList' in r.selection ? [r.selection.tagPatternList[0], r.selection.countNumber] : ['untagged', r.selection.countNumber]))).toEqual([
      ['release-*', KEEP_COUNT],
      ['v*', KEEP_COUNT],
      ['branch-staging-*-*', 10],
      ['dev-*-*', 30],
      ['untagged', UNTAGGED_DAYS],
    ]);
  });

  test("a reader's own release scheme is kept once the owner lists it in ecr.keepTags, and lost without it", () => {
    expect(run(['v*']).result.violations).toEqual([]);
    const without = run().result.violations;
    expect(without.length).toBeGreaterThan(0);
    expect(without.some((v) => / v1\.\d+\.0/.test(v))).toBe(true);
  });
});

describe('rules the generator must respect', () => {
  const base = (tiers: Record<string, unknown>, app: Record<string, unknown> = {}) =>
    resolveEnvironment(
      parseEnvironment(
        {
          name: 't',
          aws: { accountId: '111122223333', region: 'eu-west-1' },
          cluster: { name: 'c', oidcIssuerUrl: 'https://oidc.eks.eu-west-1.amazonaws.com/id/A', webhookUrl: 'https://hooks.example' },
          gitops: { url: 'https://github.com/acme/gitops', githubApp: { appId: 1, installationOwner: 'acme' } },
          tiers,
          apps: [{ name: 'api', ...app }],
        },
        't.yaml',
      ),
    );

  test('a dev pattern that also matches staging tags comes after the staging rule (so it cannot expire them)', () => {
    const env = base({
      dev: { tagScheme: 'build-{time}-{sha}', filterTags: { pattern: '^build-(?P<ts>[0-9]+)-[0-9a-f]+$', extract: '$ts' } },
      staging: { tagScheme: 'build-staging-{time}-{sha}', filterTags: { pattern: '^build-staging-(?P<ts>[0-9]+)-[0-9a-f]+$', extract: '$ts' } },
    });
    const [{ tiers }] = ownedRepositories(env);
    const patterns = lifecyclePolicy('api', tiers)!.rules.map((r) => ('tagPatternList' in r.selection ? r.selection.tagPatternList[0] : 'untagged'));
    expect(patterns).toEqual(['release-*', 'build-staging-*-*', 'build-*-*', 'untagged']);
    expect(wildcardMatch('build-*-*', 'build-staging-1-abc')).toBe(true); // why the order matters
  });

  test('a tier whose policy could select any of its tags (semver) is kept whole; initialTag values are kept exactly', () => {
    const env = base({ dev: { policy: { semver: { range: '>=0.0.0' } }, tagScheme: 'dev-{version}', filterTags: { pattern: '^dev-(?P<v>.*)$', extract: '$v' } } }, { tiers: { dev: { initialTag: 'dev-0.9.0' } } });
    const [{ tiers }] = ownedRepositories(env);
    const rules = lifecyclePolicy('api', tiers)!.rules;
    expect(rules.filter((r) => r.selection.tagStatus === 'tagged').map((r) => [(r.selection as { tagPatternList: string[] }).tagPatternList[0], r.selection.countNumber])).toEqual([
      ['release-*', KEEP_COUNT],
      ['dev-*', KEEP_COUNT],
      ['dev-0.9.0', KEEP_COUNT],
    ]);
  });

  test('two bounded tiers whose tags one pattern cannot tell apart: a ConfigError naming the field', () => {
    const env = base({
      dev: { tagScheme: 'b-{time}-{sha}', filterTags: { pattern: '^b-(?P<ts>[0-9]+)-[0-9a-f]+$', extract: '$ts' } },
      staging: { tagScheme: 'b-{time}-{sha}', filterTags: { pattern: '^b-(?P<ts>[0-9]+)-[0-9a-f]+$', extract: '$ts' } },
    });
    const [{ tiers }] = ownedRepositories(env);
    expect(() => lifecyclePolicy('api', tiers, 'Pulumi.t.yaml')).toThrow(/Pulumi\.t\.yaml: tagflow:environment\.tiers\.staging\.tagScheme: "b-\{time\}-\{sha\}" gives the ECR tag pattern 'b-\*-\*' to tiers staging and dev/);
  });

  test('scheme patterns: placeholders become one * each', () => {
    expect(schemePattern('branch-dev-{time}-{sha}')).toBe('branch-dev-*-*');
    expect(schemePattern('{time}{sha}')).toBe('*');
  });
});

describe('the example stacks agree across accounts', () => {
  test("every tag scheme prod's release tier reads from dev's repositories is kept by dev's lifecycle", () => {
    for (const { appTier, tiers } of ownedRepositories(dev)) {
      const policy = lifecyclePolicy(appTier.repository, tiers)!;
      const keep = policy.rules.filter((r) => r.selection.tagStatus === 'tagged' && r.selection.countNumber === KEEP_COUNT);
      const release = appTierOf(prod, 'release', appTier.repository)!;
      const sample = renderTag(release.tagScheme, { version: '1.2.3' });
      expect({ repo: appTier.repository, kept: keep.some((r) => selects(r, { digest: 'x', tags: [sample], pushedAt: 0 })) }).toEqual({ repo: appTier.repository, kept: true });
    }
  });
});
