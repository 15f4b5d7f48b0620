/**
 * Entry point of `npx cdk8s synth` (see cdk8s.yaml): renders every stack into the cdk8s output
 * folder (CDK8S_OUTDIR, default dist/), as `tagflow synth` does; cdk8s-cli has deleted that folder before.
 */
import { main } from './cli/main';

void main(['node', 'tagflow', 'synth', '--out', process.env.CDK8S_OUTDIR ?? 'dist']).then((code) => {
  process.exitCode = code;
});
