// kwok: fake Nodes on which scheduled Pods are reported Running and Ready (no containers run).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { BuildManifest } from './build-manifest';
import type { Kube, KubeObject } from './kube-client';
import type { ProcessSupervisor } from './process-supervisor';
import { TIER } from './control-plane';
import { httpOkProbe } from './wait';

/** Nodes carrying this annotation are managed by our kwok process. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

export interface KwokContext {
  readonly sup: ProcessSupervisor;
  readonly manifest: BuildManifest;
  readonly kube: Kube;
  readonly stateDir: string;
  readonly adminKubeconfig: string;
  readonly port: number;
  readonly nodeNames: readonly string[];
  readonly timeoutMs: number;
}

export function kwokNode(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
      },
    },
    // No taint: ordinary workloads (the scenario's Deployments) schedule here without tolerations.
    spec: {},
  };
}

/**
 * Starts kwok with the default stages kwokctl uses (copied by build.sh into the cache) and creates
 * the fake Nodes; resolves when every Node is Ready.
 */
export async function startKwok(ctx: KwokContext): Promise<void> {
  const stagesDir = ctx.manifest.kwokStagesDir;
  const stages = readdirSync(stagesDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => readFileSync(path.join(stagesDir, f), 'utf8').trim());
  if (stages.length === 0) throw new Error(`no kwok stages (*.yaml) in ${stagesDir}`);
  const config = path.join(ctx.stateDir, 'kwok-stages.yaml');
  writeFileSync(config, stages.join('\n---\n') + '\n');

  ctx.sup.start({
    name: 'kwok',
    tier: TIER.node,
    command: ctx.manifest.components.kwok.path,
    args: [
      `--config=${config}`,
      `--kubeconfig=${ctx.adminKubeconfig}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
      '--node-lease-duration-seconds=40',
      `--server-address=127.0.0.1:${ctx.port}`,
    ],
    env: { HOME: path.join(ctx.stateDir, 'kwok-home') },
  });
  await ctx.sup.waitHealthy('kwok', httpOkProbe(`http://127.0.0.1:${ctx.port}/healthz`), ctx.timeoutMs);

  await ctx.kube.apply(ctx.nodeNames.map(kwokNode));
  for (const name of ctx.nodeNames) {
    await ctx.kube.waitForCondition({ apiVersion: 'v1', kind: 'Node', name }, 'Ready', 'True', ctx.timeoutMs);
  }
}
