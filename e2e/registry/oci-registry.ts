// A real OCI registry for the run: Debian's `docker-registry` (distribution) on 127.0.0.1, anonymous and
// plain HTTP (the stack declares it `insecure`), plus small real images pushed through tagflow's own OCI
// client (src/registry), so what Flux scans was written by the code users run.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ProcessSupervisor } from '../cluster/process-supervisor';
import { freePorts } from '../cluster/free-ports';
import { httpRequest } from '../cluster/wait';
import { RegistryClient, sha256Digest } from '../../src/registry/oci-client';

const CANDIDATES = ['/usr/bin/docker-registry', '/usr/local/bin/docker-registry', '/usr/sbin/docker-registry'];

export interface OciRegistry {
  /** `127.0.0.1:<port>`: what the stack's `registry.host` says. */
  readonly host: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly client: RegistryClient;
  /** Pushes a small image (config + one layer, OCI media types) under `tag`; returns its manifest digest. */
  pushImage(repository: string, tag: string): Promise<string>;
}

/** The registry binary, or a message that says how to get it. */
export function registryBinary(): string {
  const bin = CANDIDATES.find((p) => fs.existsSync(p));
  if (!bin) throw new Error(`docker-registry is not installed (looked in ${CANDIDATES.join(', ')}): apt-get install docker-registry (e2e/build/build.sh does it as root)`);
  return bin;
}

/** Starts the registry under the supervisor (stopped with the cluster, by PID) and waits until /v2/ answers. */
export async function startRegistry(supervisor: ProcessSupervisor, workDir: string): Promise<OciRegistry> {
  const dir = path.join(workDir, 'registry');
  fs.mkdirSync(dir, { recursive: true });
  const [port] = await freePorts(1);
  const config = path.join(dir, 'config.yml');
  fs.writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: info',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'data')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  supervisor.start({ name: 'docker-registry', command: registryBinary(), args: ['serve', config], tier: 0 });
  const url = `http://127.0.0.1:${port}`;
  await supervisor.waitHealthy('docker-registry', async () => (await httpRequest(`${url}/v2/`, { timeoutMs: 2000 }).catch(() => undefined))?.status === 200, 20_000);
  const client = new RegistryClient({ baseUrl: url, insecure: true });
  return {
    host: `127.0.0.1:${port}`,
    url,
    client,
    async pushImage(repository, tag) {
      const blob = async (data: Buffer, mediaType: string) => {
        const digest = sha256Digest(data);
        if (!(await client.hasBlob(repository, digest))) await client.putBlob(repository, digest, async () => data);
        return { mediaType, digest, size: data.length };
      };
      // Each tag gets its own layer, so each tag is a distinct image with a distinct digest.
      const layer = await blob(crypto.createHash('sha512').update(`${repository}:${tag}`).digest(), 'application/vnd.oci.image.layer.v1.tar');
      const config = await blob(
        Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] }, config: { Labels: { 'org.opencontainers.image.version': tag } } })),
        'application/vnd.oci.image.config.v1+json',
      );
      const mediaType = 'application/vnd.oci.image.manifest.v1+json';
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config, layers: [layer] }));
      await client.putManifest(repository, tag, { mediaType, body });
      return sha256Digest(body);
    },
  };
}
