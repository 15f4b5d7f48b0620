// Starts the cluster's programs as detached process groups (one log file each), bounds their
// lifetime with coreutils `timeout`, and stops them by process group: SIGTERM, then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { pollUntil, sleep, TimeoutError } from './wait';

export interface ProcessInfo {
  readonly name: string;
  /** PID of the process group leader (the `timeout` wrapper); the group id is the same number. */
  readonly pid: number;
  readonly log: string;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StartSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Processes are stopped in descending tier order; the same tier is stopped in parallel. */
  readonly tier: number;
}

interface Entry {
  readonly info: ProcessInfo;
  readonly child: ChildProcess;
  readonly tier: number;
  exit?: ExitStatus;
}

/** Last `lines` lines of a file ('' if it does not exist). */
export function tailFile(file: string, lines = 40): string {
  if (!existsSync(file)) return '';
  const text = readFileSync(file, 'utf8');
  return text.split('\n').slice(-lines - 1).join('\n');
}

/** True while any process of the group `pgid` exists. */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class ProcessSupervisor {
  private readonly entries: Entry[] = [];
  private stopping?: Promise<void>;

  /**
   * @param logsDir one `<name>.log` per process
   * @param maxLifetimeSeconds hard bound for every process (coreutils `timeout`), in case stop() is never called
   */
  constructor(
    readonly logsDir: string,
    private readonly maxLifetimeSeconds: number,
  ) {}

  get processes(): ReadonlyArray<ProcessInfo> {
    return this.entries.map((e) => e.info);
  }

  start(spec: StartSpec): ProcessInfo {
    if (this.stopping) throw new Error(`cannot start ${spec.name}: the cluster is stopping`);
    const log = path.join(this.logsDir, `${spec.name}.log`);
    const fd = openSync(log, 'a');
    writeSync(fd, `# ${new Date().toISOString()} ${spec.command} ${spec.args.join(' ')}\n`);
    let child: ChildProcess;
    try {
      child = spawn(
        'timeout',
        ['--kill-after=10s', `${this.maxLifetimeSeconds}s`, spec.command, ...spec.args],
        { detached: true, stdio: ['ignore', fd, fd], cwd: spec.cwd, env: { ...process.env, ...spec.env } },
      );
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) throw new Error(`failed to spawn ${spec.name} (${spec.command}); see ${log}`);
    const entry: Entry = { info: { name: spec.name, pid: child.pid, log }, child, tier: spec.tier };
    child.on('exit', (code, signal) => {
      entry.exit = { code, signal };
    });
    child.on('error', () => {
      entry.exit ??= { code: null, signal: null };
    });
    this.entries.push(entry);
    return entry.info;
  }

  exitStatus(name: string): ExitStatus | undefined {
    return this.find(name).exit;
  }

  /** Error text for a process that exited or did not get healthy: name, exit status, log path and tail. */
  describe(name: string, problem: string): string {
    const e = this.find(name);
    const status = e.exit ? ` (exit code ${String(e.exit.code)}, signal ${String(e.exit.signal)})` : '';
    return `${name}: ${problem}${status}; log ${e.info.log}, last lines:\n${tailFile(e.info.log)}`;
  }

  /** Waits until `probe` is true; fails early, with the log tail, if the process exits. */
  async waitHealthy(name: string, probe: () => Promise<boolean>, timeoutMs: number, what = 'healthy'): Promise<void> {
    try {
      await pollUntil(`${name} to be ${what}`, timeoutMs, async () => {
        if (this.find(name).exit) throw new Error(this.describe(name, `exited before it was ${what}`));
        return (await probe()) ? true : undefined;
      });
    } catch (e) {
      if (e instanceof TimeoutError) {
        throw new Error(this.describe(name, `not ${what} within ${Math.round(timeoutMs / 1000)}s`));
      }
      throw e;
    }
  }

  /** Throws (with log tails) if any started process has exited. */
  assertAllRunning(): void {
    const dead = this.entries.filter((e) => e.exit);
    if (dead.length > 0) throw new Error(dead.map((e) => this.describe(e.info.name, 'exited')).join('\n\n'));
  }

  /** Idempotent: SIGTERM each process group (highest tier first), SIGKILL after `graceMs`. Never throws. */
  stop(graceMs = 10_000): Promise<void> {
    this.stopping ??= this.stopAll(graceMs);
    return this.stopping;
  }

  private async stopAll(graceMs: number): Promise<void> {
    const tiers = [...new Set(this.entries.map((e) => e.tier))].sort((a, b) => b - a);
    for (const tier of tiers) {
      await Promise.all(this.entries.filter((e) => e.tier === tier).map((e) => this.stopOne(e, graceMs)));
    }
  }

  private async stopOne(e: Entry, graceMs: number): Promise<void> {
    const pgid = e.info.pid;
    const signal = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-pgid, sig);
      } catch {
        // already gone
      }
    };
    if (!processGroupAlive(pgid)) return;
    signal('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (processGroupAlive(pgid) && Date.now() < deadline) await sleep(100);
    if (processGroupAlive(pgid)) {
      signal('SIGKILL');
      const killDeadline = Date.now() + 5000;
      while (processGroupAlive(pgid) && Date.now() < killDeadline) await sleep(50);
    }
  }

  private find(name: string): Entry {
    const e = this.entries.find((x) => x.info.name === name);
    if (!e) throw new Error(`no process named ${name}`);
    return e;
  }
}
