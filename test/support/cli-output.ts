import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { REPO_ROOT } from './tree';

const schema = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'schema', 'cli-output.schema.json'), 'utf8'));
const ajv = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true });
ajv.addSchema(schema);

/** Names of the command shapes in schema/cli-output.schema.json (its $defs that describe a command). */
export const CLI_OUTPUT_COMMANDS = Object.entries(schema.$defs as Record<string, { description?: string }>)
  .filter(([, d]) => typeof d.description === 'string' && /^tagflow /.test(d.description))
  .map(([k]) => k);

/** ajv's errors for `value` against the --json shape of `command`; null when it validates. */
export function cliOutputErrors(command: string, value: unknown): unknown {
  const validate = ajv.getSchema(`${schema.$id}#/$defs/${command}`);
  if (!validate) throw new Error(`schema/cli-output.schema.json has no $defs/${command}`);
  return validate(value) ? null : validate.errors;
}

/** Parses a command's --json stdout and expects it to validate against that command's documented shape. */
export function expectCliOutput(command: string, stdout: string): any {
  const value = JSON.parse(stdout);
  expect({ command, errors: cliOutputErrors(command, value) }).toEqual({ command, errors: null });
  return value;
}
