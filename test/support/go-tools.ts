import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Test tools built from their Go modules (through the Go module proxy), cached outside the repository
 * under ${XDG_CACHE_HOME:-~/.cache}/tagflow-test-tools/<name>-<version>/, keyed by version. Built on first
 * use; never committed.
 */
export const TOOLS_CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'tagflow-test-tools');

export interface GoTool {
  readonly name: string;
  /** Module path and version, e.g. github.com/sigstore/cosign/v2@v2.6.5. */
  readonly module: string;
  readonly version: string;
  /** The main package to install, inside the module. */
  readonly pkg: string;
  /** The binary's name. */
  readonly binary: string;
  /** Instead of `go install`: this main.go, built in a throwaway module that requires `module@version`. */
  readonly wrapperMain?: string;
}

/** cosign v2.6.5: `go 1.25.0` in its go.mod (builds with this machine's Go 1.26), no replace directives. */
export const COSIGN: GoTool = { name: 'cosign', module: 'github.com/sigstore/cosign/v2', version: 'v2.6.5', pkg: 'github.com/sigstore/cosign/v2/cmd/cosign', binary: 'cosign' };
/**
 * go-containerregistry's in-memory registry with its referrers API switched on (its cmd/registry leaves it
 * off, so a wrapper main calls registry.New(registry.WithReferrersSupport(true))); `go 1.25.0`. Neither
 * Debian's distribution 2.8 nor distribution v3.1.2 serves the referrers API (v3.1.2's source has no
 * referrers handler).
 */
export const GGCR_REGISTRY: GoTool = {
  name: 'ggcr-registry',
  module: 'github.com/google/go-containerregistry',
  version: 'v0.22.1',
  pkg: '.',
  binary: 'registry',
  wrapperMain: `package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1")
	flag.Parse()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	s := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: registry.New(registry.WithReferrersSupport(true))}
	log.Fatal(s.Serve(l))
}
`,
};

export function toolPath(t: GoTool): string {
  return path.join(TOOLS_CACHE, `${t.name}-${t.version}`, t.binary);
}

/** Why a tool cannot be had here (no Go toolchain), or undefined when it is built or can be built. */
export function goToolSkipReason(t: GoTool): string | undefined {
  if (fs.existsSync(toolPath(t))) return undefined;
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return `skipped: ${t.name} ${t.version} is not built in ${TOOLS_CACHE} and there is no Go toolchain to build it`;
  }
}

/**
 * The tool's binary, built on first use with `go install <pkg>@<version>` (GOBIN a temporary folder, then
 * renamed into place, so a half-built binary is never used). Returns the path and how long the build took
 * (0 when cached).
 */
export async function ensureGoTool(t: GoTool): Promise<{ path: string; buildMs: number }> {
  const bin = toolPath(t);
  if (fs.existsSync(bin)) return { path: bin, buildMs: 0 };
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  const gobin = fs.mkdtempSync(path.join(path.dirname(bin), '.build-'));
  const start = Date.now();
  const go = (args: string[], cwd: string) =>
    new Promise<void>((resolve, reject) =>
      execFile('go', args, { cwd, env: { ...process.env, GOBIN: gobin }, timeout: 30 * 60_000, maxBuffer: 64 * 1024 * 1024 }, (e, _out, err) =>
        e ? reject(new Error(`building ${t.name} ${t.version} failed (go ${args.join(' ')}): ${String(err).slice(-2000)}`)) : resolve(),
      ),
    );
  if (t.wrapperMain) {
    const src = path.join(gobin, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'go.mod'), `module tagflow.test/${t.name}\n\ngo 1.25\n\nrequire ${t.module} ${t.version}\n`);
    fs.writeFileSync(path.join(src, 'main.go'), t.wrapperMain);
    await go(['mod', 'tidy'], src);
    await go(['build', '-trimpath', '-o', path.join(gobin, t.binary), '.'], src);
  } else {
    await go(['install', '-trimpath', `${t.pkg}@${t.version}`], os.tmpdir());
  }
  fs.renameSync(path.join(gobin, t.binary), bin);
  fs.rmSync(gobin, { recursive: true, force: true });
  const buildMs = Date.now() - start;
  process.stderr.write(`built ${t.name} ${t.version} in ${Math.round(buildMs / 1000)} s into ${bin}\n`);
  return { path: bin, buildMs };
}
