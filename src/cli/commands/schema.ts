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

/** The JSON Schema of every command's --json output (schema/cli-output.schema.json, shipped with the package). */
export function cliOutputJsonSchema(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'schema', 'cli-output.schema.json'), 'utf8')) as Record<string, unknown>;
}

export function runSchema(opts: { out?: string; stackFile?: boolean; cliOutput?: boolean; json?: boolean }, log: (s: string) => void): number {
  const schema = opts.cliOutput ? cliOutputJsonSchema() : opts.stackFile ? stackFileJsonSchema() : environmentJsonSchema();
  const text = JSON.stringify(schema, null, 2) + '\n';
  if (!opts.out) {
    log(text.trimEnd());
    return 0;
  }
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  const tmp = `${opts.out}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, opts.out);
  if (opts.json) log(JSON.stringify({ written: opts.out }, null, 2));
  return 0;
}
