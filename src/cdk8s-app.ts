/**
 * Entry point of `npx cdk8s synth` (see cdk8s.yaml): renders every bundled stack into the cdk8s output
 * folder (CDK8S_OUTDIR, default dist/), exactly as `tagflow synth` does.
 */
import { main } from './cli/main';

void main(['node', 'tagflow', 'synth', '--out', process.env.CDK8S_OUTDIR ?? 'dist']).then((code) => {
  process.exitCode = code;
});
