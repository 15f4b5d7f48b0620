// Writes self-contained kubeconfig files (JSON, which every YAML reader accepts).
import { readFileSync, writeFileSync } from 'node:fs';

export interface KubeconfigSpec {
  readonly server: string;
  readonly caCertFile: string;
  readonly token: string;
  readonly user: string;
  readonly namespace?: string;
}

export function writeKubeconfig(file: string, spec: KubeconfigSpec): string {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'tagflow-e2e',
        cluster: {
          server: spec.server,
          'certificate-authority-data': readFileSync(spec.caCertFile).toString('base64'),
        },
      },
    ],
    users: [{ name: spec.user, user: { token: spec.token } }],
    contexts: [
      {
        name: 'tagflow-e2e',
        context: { cluster: 'tagflow-e2e', user: spec.user, ...(spec.namespace ? { namespace: spec.namespace } : {}) },
      },
    ],
    'current-context': 'tagflow-e2e',
  };
  writeFileSync(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  return file;
}
