import * as pulumi from '@pulumi/pulumi';
import { parseEnvironment } from '../model/load';
import { gitCredentials, resolveEnvironment } from '../model/tiers';
import { CONFIG_KEY } from '../model/load';
import { Environment, GIT_SECRET_CONFIG, type EnvironmentSecrets } from './environment';
import { AWS_REGION_CONFIG, checkProviderRegion } from '../model/provider-region';

/**
 * The Pulumi program: reads `tagflow:environment` through the same zod model as synth, and builds one
 * Environment component. Returns the stack outputs. `stackDir`: the folder of the stack file.
 */
export function runProgram(opts?: pulumi.ComponentResourceOptions, stackDir: string = process.cwd()) {
  const config = new pulumi.Config('tagflow');
  const file = `Pulumi.${pulumi.getStack()}.yaml`;
  // Files the stack names (config files, cosign keys) are relative to the stack file's folder: Pulumi runs
  // the program in the project folder, where Pulumi.<stack>.yaml is.
  const environment = resolveEnvironment(parseEnvironment(config.requireObject(CONFIG_KEY.split(':')[1]), file), file, stackDir);
  checkProviderRegion(environment, new pulumi.Config(AWS_REGION_CONFIG.split(':')[0]).get(AWS_REGION_CONFIG.split(':')[1]), file);
  const secrets = Object.fromEntries(
    GIT_SECRET_CONFIG[gitCredentials(environment.model.gitops).kind].map((k) => [k, config.requireSecret(k)]),
  ) as EnvironmentSecrets;
  const env = new Environment(
    'tagflow',
    {
      environment,
      ...secrets,
      registryDockerConfigJson: config.getSecret('registryDockerConfigJson'),
      chatWebhookUrl: config.getSecret('chatWebhookUrl'),
      commitStatusToken: config.getSecret('commitStatusToken'),
      kubeconfig: config.getSecret('kubeconfig'),
    },
    opts,
  );
  return {
    repositoryUrls: env.repositoryUrls,
    fluxRoleArn: env.fluxRoleArn,
    ciRoleArns: env.ciRoleArns,
    tierRoleArns: Object.fromEntries(Object.entries(env.tiers).filter(([, t]) => t.roleArn).map(([k, t]) => [k, t.roleArn!])),
  };
}
