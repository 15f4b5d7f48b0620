import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { EnvironmentSchema } from '../../model/environment';

/** JSON Schema of `tagflow:environment`, for editor completion in the stack files. */
export function environmentJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(EnvironmentSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://tagflow.io/schema/environment.schema.json',
    title: 'tagflow:environment',
    description: 'One tagflow environment (one cluster, one AWS account), the value of tagflow:environment in Pulumi.<stack>.yaml.',
  };
}

/** JSON Schema of a whole `Pulumi.<stack>.yaml`: other config keys are free, tagflow's is typed. */
export function stackFileJsonSchema(): Record<string, unknown> {
  const { $schema, $id: _id, title: _t, description: _d, ...env } = environmentJsonSchema();
  return {
    $schema,
    $id: 'https://tagflow.io/schema/stack.schema.json',
    title: 'Pulumi.<stack>.yaml with tagflow:environment',
    type: 'object',
    properties: {
      config: {
        type: 'object',
        properties: { 'tagflow:environment': env },
        required: ['tagflow:environment'],
      },
    },
    required: ['config'],
  };
}

export function runSchema(opts: { out?: string; stackFile?: boolean }, log: (s: string) => void): number {
  const text = JSON.stringify(opts.stackFile ? stackFileJsonSchema() : environmentJsonSchema(), null, 2) + '\n';
  if (!opts.out) {
    log(text.trimEnd());
    return 0;
  }
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  const tmp = `${opts.out}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, opts.out);
  return 0;
}
