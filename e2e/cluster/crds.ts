// Applies the Flux CRDs from the build cache and waits until each is Established.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Kube, KubeObject } from './kube-client';
import { parseManifests } from './kube-client';

/** Applies every `*.yaml` in `crdDir`; resolves with the CRD names once all are Established. */
export async function installCrds(kube: Kube, crdDir: string, timeoutMs: number): Promise<string[]> {
  const files = readdirSync(crdDir).filter((f) => f.endsWith('.yaml')).sort();
  if (files.length === 0) throw new Error(`no CRD files (*.yaml) in ${crdDir}`);
  const crds: KubeObject[] = files.flatMap((f) => parseManifests(readFileSync(path.join(crdDir, f), 'utf8')));
  await kube.apply(crds);
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    await kube.waitForCondition(
      { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: crd.metadata.name },
      'Established',
      'True',
      Math.max(1000, deadline - Date.now()),
    );
  }
  return crds.map((c) => c.metadata.name);
}
