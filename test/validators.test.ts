import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import {
  chartOciTagError,
  chartVersionConstraintError,
  chartVersionError,
  commitAuthor,
  commitAuthorError,
  extractTemplateError,
  gitBranchName,
  gitBranchNameError,
  ociTagError,
  oidcIssuerUrlError,
} from '../src/model/validators';

/** git's own verdict on a branch name. */
const gitAccepts = (name: string) => spawnSync('git', ['check-ref-format', '--branch', name], { stdio: 'ignore' }).status === 0;
const haveGit = spawnSync('git', ['--version']).status === 0;

describe('git branch names', () => {
  test.each(['main', 'dev', 'release/1.x', 'tagflow/release-updates', 'feature/a.b', 'a-b_c', 'v1.0', 'x@y', 'ünïcode'])('accepts %j', (name) => {
    expect(gitBranchNameError(name)).toBeUndefined();
  });

  test.each([
    ['', /empty/],
    ['a..b', /'\.\.'/],
    ['a b', /" "/],
    ['a~1', /"~"/],
    ['a^', /"\^"/],
    ['a:b', /":"/],
    ['a?', /"\?"/],
    ['a*', /"\*"/],
    ['a[b', /"\["/],
    ['a\\b', /"\\\\"/],
    ['a\u0007', /control/],
    ['/a', /'\/'/],
    ['a/', /'\/'/],
    ['a//b', /'\/\/'/],
    ['a.', /end with '\.'/],
    ['.a', /starting with '\.'/],
    ['a/.b', /starting with '\.'/],
    ['a.lock', /'\.lock'/],
    ['a/b.lock/c', /'\.lock'/],
    ['a@{1}', /'@\{'/],
    ['@', /'@' alone/],
    ['-a', /start with '-'/],
    ['a'.repeat(256), /at most 255 bytes/],
  ])('refuses %j', (name, message) => {
    expect(gitBranchNameError(name)).toMatch(message);
  });

  (haveGit ? test : test.skip)('agrees with `git check-ref-format --branch` on generated names', () => {
    const chars = [...'ab/.-_@{}~^:?*[\\ lock\t'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...chars), { minLength: 1, maxLength: 12 }).map((a) => a.join('')), (name) => {
        expect({ name, ours: gitBranchNameError(name) === undefined }).toEqual({ name, ours: gitAccepts(name) });
      }),
      { seed: 14, numRuns: 300 },
    );
  });

  test('as a zod schema: the issue names the rule', () => {
    const r = gitBranchName.safeParse('a..b');
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toBe("must not contain '..'");
  });
});

describe('commit author', () => {
  test('a normal author passes', () => {
    expect(commitAuthorError({ name: 'tagflow-bot', email: 'tagflow-bot@users.noreply.github.com' })).toBeUndefined();
    expect(commitAuthorError({ name: 'Zoë Ünal-Smith', email: 'z@example.com' })).toBeUndefined();
  });
  test.each([
    [{ name: 'bot\nCo-authored-by: x', email: 'b@x' }, 'name', /control characters/],
    [{ name: 'bot\u0000', email: 'b@x' }, 'name', /control characters/],
    [{ name: 'bot\u2028', email: 'b@x' }, 'name', /control characters/],
    [{ name: 'bot', email: 'b@x\r' }, 'email', /control characters/],
    [{ name: 'bot <evil@x>', email: 'b@x' }, 'name', /'<' or '>'/],
    [{ name: ' ', email: 'b@x' }, 'name', /empty/],
    [{ name: 'bot', email: 'not-an-email' }, 'email', /email address/],
  ])('%j: %s refused', (author, field, message) => {
    const e = commitAuthorError(author);
    expect(e?.field).toBe(field);
    expect(e?.message).toMatch(message);
    const r = commitAuthor.safeParse(author);
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual([field]);
  });
});

describe('OIDC issuer URL', () => {
  test.each(['https://oidc.eks.eu-west-1.amazonaws.com/id/5C6B1D4E9A0F2B3C4D5E6F7A8B9C0D1E', 'https://token.actions.githubusercontent.com', 'https://agent.buildkite.com'])('accepts %s', (u) => {
    expect(oidcIssuerUrlError(u)).toBeUndefined();
  });
  test.each([
    ['https://oidc.eks.*.amazonaws.com/id/X', /wildcard/],
    ['https://*.example.com', /wildcard/],
    ['https://issuer.example/?a=b', /query/],
    ['https://issuer.example/#x', /fragment/],
    ['http://issuer.example', /https:\/\//],
    ['https://user:pw@issuer.example', /credentials/],
    ['https://issuer.example/a b', /spaces/],
    ['issuer.example', /must be a URL/],
    [`https://issuer.example/${'a'.repeat(250)}`, /255/],
  ])('refuses %s', (u, message) => {
    expect(oidcIssuerUrlError(u)).toMatch(message);
  });
});

describe('chart versions', () => {
  test.each(['1.2.3', '0.0.0', '1.2.3-rc.1', '1.2.3-rc.1+build.5', '10.20.30'])('SemVer 2.0.0: accepts %s', (v) => {
    expect(chartVersionError(v)).toBeUndefined();
  });
  test.each(['v1.2.3', '1.2', '1', '01.2.3', '1.2.3-01', '1.2.3+', '=1.2.3', ' 1.2.3', '1.2.3 ', 'latest', '1.x'])('SemVer 2.0.0: refuses %j', (v) => {
    expect(chartVersionError(v)).toMatch(/must be a SemVer 2\.0\.0 version/);
  });
  test('an OCI chart tag is the version with _ for +', () => {
    expect(chartOciTagError('1.2.3_build.5')).toBeUndefined();
    expect(chartOciTagError('1.2.3+build.5')).toMatch(/OCI tag/);
    expect(chartOciTagError('latest')).toMatch(/SemVer version/);
  });
  test.each(['1.2.x', '>=1.0.0 <2.0.0', '^1.2', '~1.2.3', '1.0.0 - 2.0.0', '*', '>=1.0.0-0 || 2.x'])('constraint: accepts %s', (c) => {
    expect(chartVersionConstraintError(c)).toBeUndefined();
  });
  test.each(['', 'latest', '>=1.0.0p', 'x1', '1.2.3.4'])('constraint: refuses %j', (c) => {
    expect(chartVersionConstraintError(c)).toMatch(/is not a version constraint \(Masterminds\/semver v3\)/);
  });
  test('a pathological constraint is refused fast (linear parser, length bound)', () => {
    const t0 = Date.now();
    expect(chartVersionConstraintError(`${'1 '.repeat(5000)}!`)).toMatch(/at most 256/);
    expect(chartVersionConstraintError(`${'1 '.repeat(120)}!`)).toMatch(/not a version constraint/);
    expect(Date.now() - t0).toBeLessThan(500);
  });
});

describe('OCI tags and extract', () => {
  test.each(['branch-dev-0-0000000', 'release-1.2.3', '_x', 'A.b-c_d', 'a'.repeat(128)])('OCI tag: accepts %j', (t) => {
    expect(ociTagError(t)).toBeUndefined();
  });
  test.each(['', '-a', '.a', 'a:b', 'a/b', 'a+b', 'a b', 'a'.repeat(129)])('OCI tag: refuses %j', (t) => {
    expect(ociTagError(t)).toBeDefined();
  });
  test('the OCI grammar, checked against generated strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 140 }), (t) => {
        const ok = t.length >= 1 && t.length <= 128 && /^[A-Za-z0-9_]$/.test(t[0]!) && [...t.slice(1)].every((c) => /^[A-Za-z0-9._-]$/.test(c));
        expect(ociTagError(t) === undefined).toBe(ok);
      }),
      { seed: 14, numRuns: 500 },
    );
  });
  test("extract: '' is refused, a template passes", () => {
    expect(extractTemplateError('')).toMatch(/must not be empty/);
    expect(extractTemplateError('$ts')).toBeUndefined();
  });
});
