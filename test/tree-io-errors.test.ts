import { withoutWarnings } from './support/cli';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { firstDifference, fullSnapshot, synthProcess, writeCrashStack } from './support/crash';
import { REPO_ROOT, tmpDir } from './support/tree';

/**
 * File-system failures on real file systems: a tmpfs that fills up (ENOSPC) or is remounted read-only
 * (EROFS), a folder a non-root user may not write (EACCES), an immutable folder that even root may not
 * change (EPERM), a file where a folder must be (ENOTDIR); and the lock: a concurrent run, stale locks.
 * Each failure: exit 4, one line naming the path and the cause, the tree unchanged, and the next run fine.
 */
const isRoot = process.getuid?.() === 0;

function canMount(): boolean {
  if (!isRoot) return false;
  const d = tmpDir('tagflow-mount-probe-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d]);
  if (r.status !== 0) return false;
  spawnSync('umount', [d]);
  return true;
}
const MOUNT = canMount();
const describeMount = MOUNT ? describe : describe.skip;
const mountNote = MOUNT ? '' : ' (skipped: needs root and mount(8) to mount a tmpfs)';

function chattrWorks(): boolean {
  if (!isRoot) return false;
  const d = tmpDir('tagflow-chattr-probe-');
  const ok = spawnSync('chattr', ['+i', d]).status === 0;
  if (ok) spawnSync('chattr', ['-i', d]);
  return ok;
}

/** Old tree (small stack) and the configs: A (what is there), B (more apps, every file changed). */
async function trees(out: string) {
  const work = tmpDir('tagflow-io-');
  const a = path.join(work, 'a');
  const b = path.join(work, 'b');
  writeCrashStack(a, 2, 1);
  writeCrashStack(b, 40, 2);
  const first = await synthProcess(a, out);
  expect(first).toMatchObject({ code: 0 });
  return { a, b };
}

function oneLine(stderr: string): string {
  expect(stderr.endsWith('\n')).toBe(true);
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  return stderr.trimEnd();
}

describeMount(`a real tmpfs: full, then read-only${mountNote}`, () => {
  let mnt: string;
  beforeEach(() => {
    mnt = tmpDir('tagflow-tmpfs-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]);
  });
  afterEach(() => {
    spawnSync('umount', [mnt]);
  });

  test('ENOSPC while staging: exit 4, one line with the path and cause, the tree unchanged; after more space, a clean run', async () => {
    const out = path.join(mnt, 'gitops');
    const { b } = await trees(out);
    const before = fullSnapshot(out);
    const r = await synthProcess(b, out);
    expect(r.code).toBe(4);
    expect(oneLine(r.stderr)).toMatch(new RegExp(`^tagflow: cannot stage ${out}/\\S+: no space left on the device \\(ENOSPC\\); the tree is unchanged$`));
    expect(fullSnapshot(out)).toEqual(before);
    // More space: the next run completes, equal to a clean run elsewhere.
    execFileSync('mount', ['-o', 'remount,size=16m', mnt]);
    expect((await synthProcess(b, out)).code).toBe(0);
    const clean = path.join(tmpDir(), 'clean');
    fs.cpSync(out, clean, { recursive: true });
    expect((await synthProcess(b, clean)).code).toBe(0);
    expect(firstDifference(fullSnapshot(out), fullSnapshot(clean))).toBeUndefined();
  }, 60_000);

  test('EROFS: exit 4, one line naming the path, the tree unchanged', async () => {
    const out = path.join(mnt, 'gitops');
    const { b } = await trees(out);
    const before = fullSnapshot(out);
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    const r = await synthProcess(b, out);
    expect(r.code).toBe(4);
    expect(oneLine(r.stderr)).toBe(`tagflow: ${out}/.tagflow/lock: read-only file system (EROFS)`);
    expect(fullSnapshot(out)).toEqual(before);
  }, 60_000);

  test('--debug adds the stack trace', async () => {
    const out = path.join(mnt, 'gitops');
    const { b } = await trees(out);
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    const r = await new Promise<string>((resolve) => {
      const c = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), '--debug', 'synth', '--config-dir', b, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d) => (err += d));
      c.on('exit', () => resolve(err));
    });
    expect(r).toMatch(/^tagflow: .*read-only file system \(EROFS\)\nError: EROFS/);
    expect(r).toMatch(/\n\s+at /);
  }, 60_000);
});

describe('permissions and the wrong kind of entry', () => {
  const nobody = isRoot ? Number(execFileSync('id', ['-u', 'nobody']).toString()) : undefined;
  (isRoot && nobody ? test : test.skip)('EACCES (a folder a non-root user may not write): rolled back, exit 4, one line', async () => {
    const out = path.join(tmpDir('tagflow-eacces-'), 'gitops');
    const { b } = await trees(out);
    fs.chmodSync(path.dirname(out), 0o755);
    // Everything writable by the user, except one folder of files the run replaces (after others were).
    execFileSync('chown', ['-R', `${nobody}:${nobody}`, out]);
    const locked = path.join(out, 'environments/crash/staging/releases');
    fs.chmodSync(locked, 0o555);
    fs.chmodSync(path.dirname(b), 0o755);
    const before = fullSnapshot(out);
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/tagflow.js'), 'synth', '--config-dir', b, '--out', out], { uid: nobody, gid: nobody, stdio: ['ignore', 'ignore', 'pipe'], cwd: os.tmpdir() });
      let err = '';
      c.stderr.on('data', (d) => (err += d));
      c.on('exit', (code) => resolve({ code, err }));
    });
    expect(r.code).toBe(4);
    expect(oneLine(r.err)).toMatch(new RegExp(`^tagflow: cannot write ${locked}/app-\\d+\\.yaml: permission denied \\(EACCES\\); nothing was changed \\(the tree was rolled back\\)$`));
    expect(fullSnapshot(out)).toEqual(before);
    expect(fs.existsSync(path.join(out, '.tagflow/txn'))).toBe(false);
  }, 60_000);

  (chattrWorks() ? test : test.skip)('EPERM even for root (chattr +i on a folder): rolled back, exit 4, one line', async () => {
    const out = path.join(tmpDir('tagflow-eperm-'), 'gitops');
    const { b } = await trees(out);
    const locked = path.join(out, 'environments/crash/staging/releases');
    const before = fullSnapshot(out);
    execFileSync('chattr', ['+i', locked]);
    try {
      const r = await synthProcess(b, out);
      expect(r.code).toBe(4);
      expect(oneLine(r.stderr)).toMatch(/^tagflow: cannot write .*: operation not permitted \(an immutable or protected file or folder\?\) \(EPERM\); nothing was changed \(the tree was rolled back\)$/);
    } finally {
      execFileSync('chattr', ['-i', locked]);
    }
    expect(fullSnapshot(out)).toEqual(before);
    expect((await synthProcess(b, out)).code).toBe(0);
  }, 60_000);

  test('a file where a folder must be: exit 4, one line naming it', async () => {
    const out = path.join(tmpDir(), 'gitops');
    const { b } = await trees(out);
    fs.rmSync(path.join(out, 'environments'), { recursive: true });
    fs.writeFileSync(path.join(out, 'environments'), 'not a folder\n');
    const before = fullSnapshot(out);
    const r = await synthProcess(b, out);
    expect(r.code).toBe(4);
    expect(oneLine(r.stderr)).toMatch(new RegExp(`^tagflow: cannot use ${out}/environments as a folder \\(on the way to ${out}/environments/crash/\\S+\\.yaml\\): a file stands where a folder must be \\(ENOTDIR\\)$`));
    expect(fullSnapshot(out)).toEqual(before);
  }, 60_000);

  test('an output folder that is a file: exit 4', async () => {
    const file = path.join(tmpDir(), 'gitops');
    fs.writeFileSync(file, 'x');
    const work = tmpDir();
    writeCrashStack(work, 1, 1);
    const r = await synthProcess(work, path.join(file, 'sub'));
    expect(r.code).toBe(4);
    expect(oneLine(r.stderr)).toMatch(/^tagflow: cannot open the tree .*gitops\/sub: a file stands where a folder must be \(ENOTDIR\)$/);
  });
});

describe('one run at a time per tree', () => {
  test('a second run while the first writes: "in progress", exit 4; the first completes; the tree is the clean one', async () => {
    const out = path.join(tmpDir(), 'gitops');
    const { b } = await trees(out);
    // Slow the first run's write phase (a test hook) so that the second surely starts during it.
    const first = synthProcess(b, out, { env: { TAGFLOW_TEST_STEP_DELAY_MS: '5' } });
    const lock = path.join(out, '.tagflow', 'lock');
    const deadline = Date.now() + 20_000;
    while (!fs.existsSync(lock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const second = await synthProcess(b, out);
    expect(second.code).toBe(4);
    expect(oneLine(second.stderr)).toMatch(new RegExp(`^tagflow: ${fs.realpathSync(out)}: another tagflow run is writing this tree \\(pid \\d+ on ${os.hostname()}, since .*\\); try again when it ends, or, if no tagflow runs there, delete .*\\.tagflow/lock$`));
    expect((await first).code).toBe(0);
    const clean = path.join(tmpDir(), 'clean');
    expect((await synthProcess(b, clean)).code).toBe(0);
    const snap = fullSnapshot(out);
    expect(firstDifference(snap, fullSnapshot(clean))).toBeUndefined();
  }, 60_000);

  const lockWith = (out: string, info: Record<string, unknown>) => fs.writeFileSync(path.join(out, '.tagflow', 'lock'), JSON.stringify(info));
  const bootId = fs.existsSync('/proc/sys/kernel/random/boot_id') ? fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : undefined;

  test('stale locks are taken over: dead pid, pid reused by another process, machine restarted', async () => {
    const out = path.join(tmpDir(), 'gitops');
    const { a } = await trees(out);
    // A real process that is gone by now.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    for (const info of [
      { pid: Number(dead), host: os.hostname(), bootId, started: '2026-01-01T00:00:00Z' },
      { pid: process.pid, host: os.hostname(), bootId, procStart: '1', started: '2026-01-01T00:00:00Z' }, // this pid, another start time
      { pid: process.pid, host: os.hostname(), bootId: 'another-boot', started: '2026-01-01T00:00:00Z' },
    ]) {
      lockWith(out, info);
      const r = await synthProcess(a, out);
      expect({ info, code: r.code, stderr: withoutWarnings(r.stderr) }).toEqual({ info, code: 0, stderr: '' });
      expect(fs.existsSync(path.join(out, '.tagflow', 'lock'))).toBe(false);
    }
  }, 60_000);

  test('a live lock (this very process) and a lock from another host are respected', async () => {
    const out = path.join(tmpDir(), 'gitops');
    const { a } = await trees(out);
    const stat = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8');
    const procStart = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    for (const info of [
      { pid: process.pid, host: os.hostname(), bootId, procStart, started: '2026-01-01T00:00:00Z' },
      { pid: 1, host: 'ci-runner-7', started: '2026-01-01T00:00:00Z' },
    ]) {
      lockWith(out, info);
      const r = await synthProcess(a, out);
      expect(r.code).toBe(4);
      expect(oneLine(r.stderr)).toContain(`another tagflow run is writing this tree (pid ${info.pid} on ${info.host}, since 2026-01-01T00:00:00Z)`);
    }
  }, 60_000);
});
