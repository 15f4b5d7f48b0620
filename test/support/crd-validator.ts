import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

/**
 * Validates objects against the openAPIV3Schema of the upstream Flux CRDs (../shared/flux-crds), strictly:
 * a field the CRD does not define is an error (the API server would silently prune it). CEL rules are not
 * evaluated here; the constructs encode those.
 */
export function loadCrdValidators(crdDir: string): Map<string, ValidateFunction> {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const out = new Map<string, ValidateFunction>();
  for (const f of fs.readdirSync(crdDir).filter((n) => n.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(crdDir, f), 'utf8'))) {
      const crd = (doc as any).toJS();
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      for (const v of crd.spec.versions) {
        const schema = strict(structuredClone(v.schema.openAPIV3Schema));
        out.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, ajv.compile(schema));
      }
    }
  }
  return out;
}

function strict(s: any): any {
  if (s && typeof s === 'object') {
    if (s.type === 'object' && s.properties && !s['x-kubernetes-preserve-unknown-fields'] && s.additionalProperties === undefined) {
      s.additionalProperties = false;
    }
    for (const v of Object.values(s)) strict(v);
  }
  // metadata is a free-form object in CRDs.
  if (s?.properties?.metadata?.type === 'object' && !s.properties.metadata.properties) s.properties.metadata = {};
  return s;
}
