/** Entry point of the Pulumi program (Pulumi.yaml `main`); its exports are the stack outputs. */
import { runProgram } from './stack';

const outputs = runProgram();
export const repositoryUrls = outputs.repositoryUrls;
export const fluxRoleArn = outputs.fluxRoleArn;
export const ciRoleArns = outputs.ciRoleArns;
export const tierRoleArns = outputs.tierRoleArns;
