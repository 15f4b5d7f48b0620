import { expectCliOutput } from './support/cli-output';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { loadStack, parseEnvironment } from '../src/model/load';
import { resolveEnvironment } from '../src/model/tiers';
import { ANCHORS, durationSeconds, environmentLatency, formatSeconds, HOP_SECONDS } from '../src/latency/latency';
import { REPO_ROOT, sampleEnvironment } from './support/tree';

describe('tagflow latency', () => {
  test('Go durations', () => {
    expect(durationSeconds('1m')).toBe(60);
    expect(durationSeconds('5m30s')).toBe(330);
    expect(durationSeconds('1h')).toBe(3600);
    expect(durationSeconds('500ms')).toBe(0.5);
    expect(() => durationSeconds('5 minutes')).toThrow(/not a Go duration/);
    expect(formatSeconds(66)).toBe('66s');
    expect(formatSeconds(215)).toBe('3m35s');
  });

  test('example stacks: push → commit within a minute on the webhook path, ahead of both anchors', () => {
    const rows = environmentLatency(loadStack(REPO_ROOT, 'dev'));
    const webhook = rows.filter((r) => r.path === 'webhook');
    expect(webhook.map((r) => r.tier)).toEqual(['dev', 'staging']);
    for (const r of webhook) {
      expect(r.pushToCommit.worst).toBeLessThanOrEqual(60);
      expect(r.pushToCommit.typical).toBe(HOP_SECONDS.eventBridge.typical + HOP_SECONDS.scan.typical + HOP_SECONDS.commit.typical);
      expect(r.pushToRunning!.typical).toBeLessThan(ANCHORS.kubectlSetImagePushToRunning.typical);
      const polling = rows.find((p) => p.tier === r.tier && p.path === 'polling')!;
      expect(r.pushToCommit.worst).toBeLessThanOrEqual(polling.pushToCommit.worst);
    }
  });

  test('polling follows the scan interval; reviewed tiers stop at the commit', () => {
    const env = (scanInterval: string) =>
      environmentLatency(resolveEnvironment(parseEnvironment(sampleEnvironment({ tiers: { dev: { scanInterval, webhook: false }, release: {} } }), 't.yaml')));
    const one = env('1m').find((r) => r.tier === 'dev')!;
    const ten = env('10m').find((r) => r.tier === 'dev')!;
    expect(ten.pushToCommit.worst - one.pushToCommit.worst).toBe(540);
    expect(ten.pushToCommit.typical - one.pushToCommit.typical).toBe(270);
    expect(env('1m').map((r) => `${r.tier}/${r.path}`)).toEqual(['dev/polling', 'release/polling']);
    expect(env('1m').find((r) => r.tier === 'release')!.pushToRunning).toBeUndefined();
  });

  test('CLI prints the table with both anchors; --json carries the assumptions', () => {
    const bin = path.join(REPO_ROOT, 'bin/tagflow.js');
    const r = spawnSync(process.execPath, [bin, 'latency', '--stack', 'dev'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^dev +webhook \(EventBridge → Receiver\) +6s \/ 35s +66s \/ 3m35s$/m);
    expect(r.stdout).toMatch(/^anchor +Flux defaults/m);
    expect(r.stdout).toMatch(/^anchor +CI runs kubectl set image/m);
    const j = expectCliOutput('latency', spawnSync(process.execPath, [bin, 'latency', '--stack', 'prod', '--json'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout);
    expect(j.assumptions).toEqual(HOP_SECONDS);
    expect(j.tiers).toHaveLength(1);
  });
});
