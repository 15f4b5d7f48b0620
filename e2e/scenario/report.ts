// The run's JSON report and its short table: build and scenario times, every Flux object's Ready
// condition, Flux's commits against simulate's predictions, the measured latencies.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface StepRecord {
  readonly name: string;
  status: 'passed' | 'failed' | 'not run';
  seconds: number;
  detail?: string;
}

export interface ObjectRecord {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly ready: string;
  readonly reason?: string;
  readonly message?: string;
}

export interface LatencyRecord {
  readonly tier: string;
  readonly path: 'webhook' | 'polling';
  readonly app: string;
  readonly tag: string;
  /** Image pushed → Flux's commit accepted by the git server. */
  readonly pushToCommitSeconds: number;
  /** Image pushed → the Deployment runs it with every replica updated and available. */
  readonly pushToDeployedSeconds: number;
}

export interface CommitComparison {
  readonly tier: string;
  readonly commit: string;
  readonly equal: boolean;
  readonly simulated: string;
  readonly flux: string;
}

export class RunReport {
  readonly startedAt = new Date().toISOString();
  readonly steps: StepRecord[] = [];
  readonly objects: ObjectRecord[] = [];
  readonly commits: CommitComparison[] = [];
  readonly latencies: LatencyRecord[] = [];
  readonly notes: string[] = [];
  negative?: { readonly object: string; readonly reason: string; readonly message: string };
  build?: unknown;
  private readonly t0 = Date.now();

  constructor(readonly file: string) {}

  /** Runs a step, recording its outcome and duration; rethrows its failure. */
  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const rec: StepRecord = { name, status: 'not run', seconds: 0 };
    this.steps.push(rec);
    const t = Date.now();
    try {
      const v = await fn();
      rec.status = 'passed';
      return v;
    } catch (e) {
      rec.status = 'failed';
      rec.detail = e instanceof Error ? e.message : String(e);
      throw e;
    } finally {
      rec.seconds = Math.round((Date.now() - t) / 100) / 10;
      this.write();
    }
  }

  write(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const body = {
      startedAt: this.startedAt,
      scenarioSeconds: Math.round((Date.now() - this.t0) / 1000),
      build: this.build,
      steps: this.steps,
      objects: this.objects,
      commits: this.commits,
      latencies: this.latencies,
      negative: this.negative,
      notes: this.notes,
    };
    fs.writeFileSync(this.file, JSON.stringify(body, null, 2) + '\n');
  }

  table(): string {
    const rows: string[][] = [['STEP', 'RESULT', 'SECONDS']];
    for (const s of this.steps) rows.push([s.name, s.status, String(s.seconds)]);
    const lat: string[][] = [['TIER', 'PATH', 'PUSH→COMMIT', 'PUSH→DEPLOYED']];
    for (const l of this.latencies) lat.push([l.tier, l.path, `${l.pushToCommitSeconds}s`, `${l.pushToDeployedSeconds}s`]);
    const fmt = (t: string[][]) => {
      const w = t[0]!.map((_, i) => Math.max(...t.map((r) => r[i]!.length)));
      return t.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n');
    };
    const ready = this.objects.filter((o) => o.ready === 'True').length;
    return [
      fmt(rows),
      '',
      fmt(lat),
      '',
      `Flux objects Ready: ${ready}/${this.objects.length}; Flux commits equal to tagflow simulate: ${this.commits.filter((c) => c.equal).length}/${this.commits.length}`,
      `scenario ${Math.round((Date.now() - this.t0) / 1000)}s; report ${this.file}`,
    ].join('\n');
  }
}
