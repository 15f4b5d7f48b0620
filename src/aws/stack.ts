import * as pulumi from '@pulumi/pulumi';
import { parseEnvironment } from '../model/load';
import { resolveEnvironment } from '../model/tiers';
import { CONFIG_KEY } from '../model/load';
import { Environment } from './environment';

/**
 * The Pulumi program: reads `tagflow:environment` through the same zod model as synth, and builds one
 * Environment component. Returns the stack outputs.
 */
export function runProgram(opts?: pulumi.ComponentResourceOptions) {
  const config = new pulumi.Config('tagflow');
  const file = `Pulumi.${pulumi.getStack()}.yaml`;
  const environment = resolveEnvironment(parseEnvironment(config.requireObject(CONFIG_KEY.split(':')[1]), file), file);
  const env = new Environment(
    'tagflow',
    { environment, githubAppPrivateKey: config.requireSecret('githubAppPrivateKey'), kubeconfig: config.getSecret('kubeconfig') },
    opts,
  );
  return {
    repositoryUrls: env.repositoryUrls,
    fluxRoleArn: env.fluxRoleArn,
    ciRoleArn: env.ciRoleArn,
    tierRoleArns: Object.fromEntries(Object.entries(env.tiers).filter(([, t]) => t.roleArn).map(([k, t]) => [k, t.roleArn!])),
  };
}
