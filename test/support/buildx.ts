import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The real `docker buildx` CLI plugin (docker/buildx, built from the Go module proxy: no daemon needed for
 * `imagetools`), in a DOCKER_CONFIG of its own so the machine's docker setup is left alone. Built once into
 * ~/.cache/tagflow-test-tools (about ten minutes on two cores); undefined, with the reason, when it cannot be.
 */
export const BUILDX_VERSION = 'v0.23.0';

export function buildxDockerConfig(): { dockerConfig?: string; reason?: string } {
  const docker = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => fs.existsSync(p));
  if (!docker) return { reason: 'no docker CLI on this machine' };
  const cache = path.join(os.homedir(), '.cache', 'tagflow-test-tools', `buildx-${BUILDX_VERSION}`);
  const plugin = path.join(cache, 'docker-buildx');
  if (!fs.existsSync(plugin)) {
    try {
      execFileSync('go', ['version'], { stdio: 'ignore' });
    } catch {
      return { reason: 'docker-buildx is not built and there is no Go toolchain to build it' };
    }
    try {
      // buildx's go.mod has exclude directives, so `go install pkg@version` refuses it: build in a copy of the module.
      const dir = JSON.parse(execFileSync('go', ['mod', 'download', '-json', `github.com/docker/buildx@${BUILDX_VERSION}`], { encoding: 'utf8' })).Dir as string;
      const src = fs.mkdtempSync(path.join(os.tmpdir(), 'buildx-src-'));
      fs.cpSync(dir, src, { recursive: true });
      execFileSync('chmod', ['-R', 'u+w', src]);
      fs.rmSync(path.join(src, 'vendor'), { recursive: true, force: true });
      fs.mkdirSync(cache, { recursive: true });
      execFileSync('go', ['build', '-mod=mod', '-o', `${plugin}.tmp`, './cmd/buildx'], { cwd: src, stdio: 'ignore', timeout: 40 * 60_000 });
      fs.renameSync(`${plugin}.tmp`, plugin);
      fs.rmSync(src, { recursive: true, force: true });
    } catch (e) {
      return { reason: `building docker-buildx ${BUILDX_VERSION} failed: ${(e as Error).message.split('\n')[0]}` };
    }
  }
  const config = fs.mkdtempSync(path.join(os.tmpdir(), 'tagflow-docker-'));
  fs.mkdirSync(path.join(config, 'cli-plugins'));
  fs.symlinkSync(plugin, path.join(config, 'cli-plugins', 'docker-buildx'));
  return { dockerConfig: config };
}
