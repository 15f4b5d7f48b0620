import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { synth } from '../src/gitops/synth';
import { RELEASE_PR_LABEL, RELEASE_PR_WORKFLOW_PATH } from '../src/gitops/release-pr-workflow';
import { REPO_ROOT, sampleEnvironment, tmpDir, writeStack } from './support/tree';

const out = tmpDir();
synth({ configDir: REPO_ROOT, outDir: out });
const workflow = parse(fs.readFileSync(path.join(out, RELEASE_PR_WORKFLOW_PATH), 'utf8'));

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8', stdio: 'pipe' });

/** A bare "GitHub" repository, a clone with a commit on main, and Flux's commit on the review branch. */
function repositories() {
  const root = tmpDir();
  const origin = path.join(root, 'origin.git');
  git(root, 'init', '--bare', origin);
  const flux = path.join(root, 'flux');
  git(root, 'clone', '--quiet', origin, flux);
  fs.writeFileSync(path.join(flux, 'README.md'), 'gitops\n');
  git(flux, 'add', '.');
  git(flux, 'commit', '--quiet', '-m', 'init');
  git(flux, 'push', '--quiet', 'origin', 'HEAD:main');
  git(flux, 'checkout', '--quiet', '-b', 'tagflow/prod/release');
  fs.writeFileSync(path.join(flux, 'release.yaml'), 'tag: release-1.5.0\n');
  git(flux, 'add', '.');
  git(flux, 'commit', '--quiet', '-m', 'chore(production): update images\n\n- HelmRelease production/checkout-api\n  release-1.4.0 -> release-1.5.0\n\nFiles:\n- environments/prod/release/releases/checkout-api.yaml\n');
  git(flux, 'push', '--quiet', 'origin', 'tagflow/prod/release');
  // What actions/checkout gives the job: a clone of the pushed ref.
  const job = path.join(root, 'job');
  git(root, 'clone', '--quiet', '--branch', 'tagflow/prod/release', origin, job);
  return { root, origin, job };
}

/** A stand-in `gh` that records its arguments and the body file, and answers `pr list` from a file. */
function fakeGh(dir: string, openPr = '') {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const log = path.join(dir, 'gh.log');
  fs.writeFileSync(
    path.join(bin, 'gh'),
    `#!/usr/bin/env bash\necho "gh $*" >> ${log}\nfor a in "$@"; do if [ -f "$a" ]; then echo "--- body" >> ${log}; cat "$a" >> ${log}; fi; done\nif [ "$1 $2" = "pr list" ]; then echo "${openPr}"; fi\n`,
    { mode: 0o755 },
  );
  return { bin, log };
}

function runStep(jobName: string, cwd: string, env: Record<string, string>) {
  const step = workflow.jobs[jobName].steps.find((s: { run?: string }) => s.run);
  return spawnSync('bash', ['-c', step.run], { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
}

describe('release pull request workflow in the GitOps tree', () => {
  test('parses, runs on pushes to the review branches and on closed pull requests, with the permissions it needs', () => {
    expect(workflow.on.push.branches).toEqual(['tagflow/*/release']);
    expect(workflow.on.pull_request.types).toEqual(['closed']);
    expect(workflow.permissions).toEqual({ contents: 'write', 'pull-requests': 'write', issues: 'write' });
    expect(workflow.jobs.open.if).toBe("github.event_name == 'push'");
    expect(workflow.jobs['delete-branch'].if).toContain("endsWith(github.head_ref, '/release')");
    expect(workflow.jobs.open.steps[1].env).toMatchObject({ BRANCH: '${{ github.ref_name }}', BASE: '${{ github.event.repository.default_branch }}' });
  });

  test('opens a labelled pull request into the base branch with the change list of Flux commits as its body', () => {
    const { root, job } = repositories();
    const gh = fakeGh(root);
    const r = runStep('open', job, { BRANCH: 'tagflow/prod/release', BASE: 'main', GH_TOKEN: 'x', PATH: `${gh.bin}:${process.env.PATH}` });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const log = fs.readFileSync(gh.log, 'utf8');
    expect(log).toContain(`gh label create ${RELEASE_PR_LABEL}`);
    expect(log).toMatch(/gh pr create --head tagflow\/prod\/release --base main --title tagflow: release images for prod --body-file \S+ --label tagflow-release/);
    expect(log).toContain('- HelmRelease production/checkout-api\n  release-1.4.0 -> release-1.5.0');
    expect(log).toContain('environment `prod`');
  });

  test('updates the pull request that is already open instead of opening another', () => {
    const { root, job } = repositories();
    const gh = fakeGh(root, '17');
    const r = runStep('open', job, { BRANCH: 'tagflow/prod/release', BASE: 'main', GH_TOKEN: 'x', PATH: `${gh.bin}:${process.env.PATH}` });
    expect(r.status).toBe(0);
    const log = fs.readFileSync(gh.log, 'utf8');
    expect(log).toMatch(/gh pr edit 17 --body-file \S+ --add-label tagflow-release/);
    expect(log).not.toContain('gh pr create');
  });

  test('after the pull request is closed, deletes the review branch so Flux recreates it from the base branch', () => {
    const { job, origin } = repositories();
    const r = runStep('delete-branch', job, { BRANCH: 'tagflow/prod/release' });
    expect(r.status).toBe(0);
    expect(git(origin, 'branch', '--list')).not.toContain('tagflow/prod/release');
    // A second close (or a branch already gone) is not an error.
    expect(runStep('delete-branch', job, { BRANCH: 'tagflow/prod/release' }).status).toBe(0);
  });

  test('is written only for GitHub repositories with a reviewed tier', () => {
    const dir = tmpDir();
    writeStack(dir, 'g', sampleEnvironment({ gitops: { url: 'https://gitea.example/acme/gitops', basicAuth: {} } }));
    const o = path.join(dir, 'out');
    synth({ configDir: dir, outDir: o });
    expect(fs.existsSync(path.join(o, RELEASE_PR_WORKFLOW_PATH))).toBe(false);
  });
});
