// Validates Kubernetes objects (JSON array on stdin) with the validators that @kubernetes-models/flux-cd
// and kubernetes-models generate from the Flux and Kubernetes Go API types. These packages are ESM-only,
// so jest (CommonJS) runs this file in a child process. Prints [{index, kind, name, error}] for failures.
import { readFileSync } from 'node:fs';

const objects = JSON.parse(readFileSync(0, 'utf8'));
const failures = [];
for (const [index, obj] of objects.entries()) {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const module = group.endsWith('.fluxcd.io')
    ? `@kubernetes-models/flux-cd/${group}/${version}/${obj.kind}`
    : group === ''
      ? `kubernetes-models/${version}/${obj.kind}`
      : `kubernetes-models/${group}/${version}/${obj.kind}`;
  let Model;
  try {
    Model = (await import(module))[obj.kind];
  } catch (e) {
    failures.push({ index, kind: obj.kind, name: obj.metadata?.name, error: `no validator for ${obj.apiVersion} ${obj.kind} (${module})` });
    continue;
  }
  try {
    new Model(obj).validate();
  } catch (e) {
    failures.push({ index, kind: obj.kind, name: obj.metadata?.name, error: e.message });
  }
}
process.stdout.write(JSON.stringify(failures));
