#!/usr/bin/env bash
# Builds the upstream programs the e2e run needs, at the versions pinned in versions.env,
# from their Go modules (Go module proxy), into a cache OUTSIDE the repository:
#
#   ${TAGFLOW_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tagflow-e2e}/
#     bin/<name>-<version>[+<hash>] one binary per component, rebuilt only when its version (or its
#                                   dependency overrides, see versions.env) changes
#     crds-<versions>/*.yaml        the Flux CRDs (config/crd/bases of each controller module)
#     logs/<name>-<version>.log     one build log per component
#     wrappers/<name>-<version>/    throwaway wrapper modules (see below)
#     manifest.json                 what the TypeScript side (e2e/cluster) reads
#
# Modules with replace directives cannot be `go install`ed at a version, so each is built from a
# throwaway wrapper module that requires it and repeats its replace directives; a replace to a
# local directory (`./api`, `./staging/src/k8s.io/X`, `../api`) becomes the published module at
# the version the upstream go.mod requires (or, for a v0.0.0 placeholder, the matching v0.<minor>.<patch>).
#
# stdout: one line per component, then the manifest path as the last line. Everything else: stderr.
# Env: TAGFLOW_E2E_CACHE, TAGFLOW_E2E_BUILD_JOBS (go build -p, default: nproc), GOMODCACHE/GOCACHE as usual.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache="${TAGFLOW_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tagflow-e2e}"
bin_dir="$cache/bin"
log_dir="$cache/logs"
wrap_dir="$cache/wrappers"
mkdir -p "$bin_dir" "$log_dir" "$wrap_dir"
cache="$(cd "$cache" && pwd)"
bin_dir="$cache/bin"
log_dir="$cache/logs"
wrap_dir="$cache/wrappers"

for tool in go node; do
  command -v "$tool" >/dev/null || { echo "build.sh: '$tool' is required but not on PATH" >&2; exit 1; }
done

export GOTOOLCHAIN=local      # never fetch another toolchain: every pinned module is `go <= 1.26`
export GOFLAGS=-mod=mod        # the wrapper modules resolve their go.sum on the fly
export CGO_ENABLED=0           # all of these are built with cgo off upstream (Dockerfiles / release scripts)
jobs="${TAGFLOW_E2E_BUILD_JOBS:-$(nproc)}"

started=$(date +%s)
# Temporary output dirs (bin/.tmp-*, .tmp-crds-*, .tmp-kwok-stages-*) are removed however we exit.
trap 'rm -rf "$bin_dir"/.tmp-* "$cache"/.tmp-*' EXIT
records=()   # name|version|path|cached|seconds|log|module|overrides

say() { echo "build.sh: $*" >&2; }

# module_info MODULE@VERSION FIELD -> prints a field of `go mod download -json` (GoMod, Dir, ...)
module_info() {
  local json
  json="$(go mod download -json "$1")" || { say "go mod download $1 failed"; echo "$json" >&2; return 1; }
  node -e 'const j=JSON.parse(process.argv[1]); if(j.Error){console.error(j.Error);process.exit(1)} process.stdout.write(String(j[process.argv[2]]??""))' "$json" "$2"
}

# write_wrapper DIR MODULE VERSION [PLACEHOLDER_VERSION] [OVERRIDES]
# Writes DIR/go.mod requiring MODULE@VERSION with the upstream go/godebug/exclude/replace directives,
# plus OVERRIDES ("module=version ..." from versions.env), which win over upstream replaces.
write_wrapper() {
  local dir="$1" mod="$2" ver="$3" placeholder="${4:-}" overrides="${5:-}"
  local upstream_gomod upstream_json
  upstream_gomod="$(module_info "$mod@$ver" GoMod)"
  upstream_json="$(go mod edit -json "$upstream_gomod")"
  mkdir -p "$dir"
  node -e '
    const [gm, mod, ver, placeholder, name, overrides] = process.argv.slice(1);
    const over = new Map(overrides.split(/\s+/).filter(Boolean).map((o) => o.split("=")));
    const m = JSON.parse(gm);
    const req = new Map((m.Require ?? []).map((r) => [r.Path, r.Version]));
    const out = [`module tagflow-e2e/wrapper/${name}`, "", `go ${m.Go}`, ""];
    for (const g of m.GoDebug ?? []) out.push(`godebug ${g.Key}=${g.Value}`);
    out.push("", `require ${mod} ${ver}`, "");
    for (const e of m.Exclude ?? []) out.push(`exclude ${e.Path} ${e.Version}`);
    for (const [p, v] of over) out.push(`replace ${p} => ${p} ${v} // override from versions.env`);
    for (const r of m.Replace ?? []) {
      if (over.has(r.Old.Path)) continue;
      const old = r.Old.Version ? `${r.Old.Path} ${r.Old.Version}` : r.Old.Path;
      if (r.New.Version) { out.push(`replace ${old} => ${r.New.Path} ${r.New.Version}`); continue; }
      // Local directory replace: use the published module instead.
      const v = req.get(r.Old.Path);
      if (v === undefined) continue; // not required (e.g. etcd FORBIDDEN_DEPENDENCY guards)
      let target = v;
      if (/^v0\.0\.0(-|$)/.test(v)) {
        if (!placeholder) { console.error(`${mod}@${ver}: ${r.Old.Path} is required at placeholder ${v}; no version to map it to`); process.exit(1); }
        target = placeholder;
      }
      out.push(`replace ${r.Old.Path} => ${r.Old.Path} ${target}`);
    }
    process.stdout.write(out.join("\n") + "\n");
  ' "$upstream_json" "$mod" "$ver" "$placeholder" "$(basename "$dir")" "$overrides" >"$dir/go.mod"
}

# build_group GROUP MODULE VERSION PLACEHOLDER OVERRIDES LDFLAGS NAME=PKG...
# Builds one or more main packages of MODULE@VERSION into bin/NAME-VERSION (skipped when all exist).
# The cache key is NAME-VERSION; with OVERRIDES it is NAME-VERSION+<hash of the overrides>.
build_group() {
  local group="$1" mod="$2" ver="$3" placeholder="$4" overrides="$5" ldflags="$6"
  shift 6
  local key="$ver"
  [[ -z "$overrides" ]] || key="$ver+$(printf '%s' "$overrides" | sha256sum | cut -c1-8)"
  local names=() pkgs=() missing=0 spec
  for spec in "$@"; do
    names+=("${spec%%=*}")
    pkgs+=("${spec#*=}")
    [[ -x "$bin_dir/${spec%%=*}-$key" ]] || missing=1
  done
  local log="$log_dir/$group-$key.log"
  if [[ $missing == 0 ]]; then
    local n
    for n in "${names[@]}"; do
      records+=("$n|$ver|$bin_dir/$n-$key|true|0|$log|$mod|$overrides")
      printf '%-30s %-9s cached   %5ss\n' "$n" "$ver" 0
    done
    return 0
  fi
  local t0 dir out n
  t0=$(date +%s)
  dir="$wrap_dir/$group-$key"
  out="$(mktemp -d "$bin_dir/.tmp-$group-XXXXXX")"
  say "building $group $ver (log: $log)"
  {
    echo "# $group $mod@$ver overrides: ${overrides:-none}  $(date -u +%FT%TZ)  go: $(go version)  jobs: $jobs"
    rm -rf "$dir"
    write_wrapper "$dir" "$mod" "$ver" "$placeholder" "$overrides"
    echo "# wrapper go.mod:"; cat "$dir/go.mod"
    (cd "$dir" && go build -p "$jobs" -trimpath -ldflags="-s -w $ldflags" -o "$out/" "${pkgs[@]}")
  } >"$log" 2>&1 || {
    say "FAILED to build $group $ver; last lines of $log:"
    tail -n 30 "$log" >&2
    rm -rf "$out"
    exit 1
  }
  local base
  for spec in "$@"; do
    n="${spec%%=*}"
    base="$(basename "${spec#*=}")"   # go build -o DIR/ names a binary after its package path,
    [[ ! "$base" =~ ^v[0-9]+$ ]] || base="$(basename "$(dirname "${spec#*=}")")"   # minus a /vN suffix
    mv -f "$out/$base" "$bin_dir/$n-$key"
  done
  rm -rf "$out"
  local secs=$(( $(date +%s) - t0 ))
  for n in "${names[@]}"; do
    records+=("$n|$ver|$bin_dir/$n-$key|false|$secs|$log|$mod|$overrides")
    printf '%-30s %-9s built    %5ss\n' "$n" "$ver" "$secs"
  done
}

# --- Kubernetes control plane -------------------------------------------------------------
kv="$KUBERNETES_VERSION"
kminor="${kv#v1.}"; kminor="${kminor%%.*}"
kube_ld=""
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  kube_ld+=" -X $pkg.gitVersion=$kv -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kminor -X $pkg.gitTreeState=clean"
done
build_group kubernetes k8s.io/kubernetes "$kv" "v0.${kv#v1.}" "" "$kube_ld" \
  kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
  kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
  kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler

# --- etcd ----------------------------------------------------------------------------------
build_group etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "" "" "" etcd=go.etcd.io/etcd/server/v3

# --- kwok ----------------------------------------------------------------------------------
build_group kwok sigs.k8s.io/kwok "$KWOK_VERSION" "" "" \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$kv" \
  kwok=sigs.k8s.io/kwok/cmd/kwok

# --- Flux controllers ------------------------------------------------------------------------
flux_controllers=(
  "source-controller:$SOURCE_CONTROLLER_VERSION"
  "kustomize-controller:$KUSTOMIZE_CONTROLLER_VERSION"
  "helm-controller:$HELM_CONTROLLER_VERSION"
  "notification-controller:$NOTIFICATION_CONTROLLER_VERSION"
  "image-reflector-controller:$IMAGE_REFLECTOR_CONTROLLER_VERSION"
  "image-automation-controller:$IMAGE_AUTOMATION_CONTROLLER_VERSION"
)
crd_key=""
for entry in "${flux_controllers[@]}"; do
  name="${entry%%:*}"; ver="${entry#*:}"
  ovar="$(echo "$name" | tr 'a-z-' 'A-Z_')_OVERRIDES"
  build_group "$name" "github.com/fluxcd/$name" "$ver" "" "${!ovar:-}" "" "$name=github.com/fluxcd/$name"
  short="$(echo "$name" | sed -E 's/(^|-)([a-z])[a-z]*/\2/g')"   # source-controller -> sc
  crd_key+="${crd_key:+-}$short${ver#v}"
done

# --- CRDs (from the module zips in the module cache) -----------------------------------------
crd_dir="$cache/crds-$crd_key"
if [[ ! -d "$crd_dir" ]]; then
  tmp="$(mktemp -d "$cache/.tmp-crds-XXXXXX")"
  for entry in "${flux_controllers[@]}"; do
    name="${entry%%:*}"; ver="${entry#*:}"
    src="$(module_info "github.com/fluxcd/$name@$ver" Dir)/config/crd/bases"
    [[ -d "$src" ]] || { say "no CRDs at $src"; exit 1; }
    cp "$src"/*.yaml "$tmp/"
  done
  chmod -R u+w,go+rX "$tmp"
  mv "$tmp" "$crd_dir"
fi
say "CRDs: $crd_dir ($(ls "$crd_dir" | wc -l) files)"

# --- kwok stages ---------------------------------------------------------------------------------
# The kwok binary has no built-in behaviour: node/pod lifecycles come from Stage objects in its
# --config. These are the defaults kwokctl uses (pkg/kwokctl/runtime/cluster.go): node-initialize,
# node-heartbeat-with-lease, pod-ready, pod-complete, pod-delete (from the module zip).
kwok_stages="$cache/kwok-stages-$KWOK_VERSION"
if [[ ! -d "$kwok_stages" ]]; then
  tmp="$(mktemp -d "$cache/.tmp-kwok-stages-XXXXXX")"
  src="$(module_info "sigs.k8s.io/kwok@$KWOK_VERSION" Dir)/kustomize/stage"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [[ -f "$src/$f" ]] || { say "no kwok stage at $src/$f"; exit 1; }
    cp "$src/$f" "$tmp/"
  done
  chmod -R u+w,go+rX "$tmp"
  mv "$tmp" "$kwok_stages"
fi

# --- manifest ----------------------------------------------------------------------------------
total=$(( $(date +%s) - started ))
manifest="$cache/manifest.json"
printf '%s\n' "${records[@]}" | node -e '
  const [cacheDir, crdDir, kwokStagesDir, total, fluxVersion, goVersion, jobs] = process.argv.slice(1);
  const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
  const components = {};
  let built = 0, buildSeconds = 0;
  for (const l of lines) {
    const [name, version, path, cached, seconds, log, module, overrides] = l.split("|");
    components[name] = { module, version, path, cached: cached === "true", buildSeconds: Number(seconds), log,
      overrides: (overrides ?? "").split(/\s+/).filter(Boolean) };
    if (cached !== "true") built++;
  }
  const groups = new Set(lines.map((l) => l.split("|")[5]));
  for (const g of groups) buildSeconds += Number(lines.find((l) => l.split("|")[5] === g).split("|")[4]);
  const m = {
    schemaVersion: 1, generatedAt: new Date().toISOString(), go: goVersion, jobs: Number(jobs),
    fluxVersion, cacheDir, crdDir, kwokStagesDir, components,
    totals: { components: lines.length, built, cached: lines.length - built, buildSeconds, wallSeconds: Number(total) },
  };
  process.stdout.write(JSON.stringify(m, null, 2) + "\n");
'  "$cache" "$crd_dir" "$kwok_stages" "$total" "$FLUX_VERSION" "$(go env GOVERSION)" "$jobs" >"$manifest.tmp"
mv "$manifest.tmp" "$manifest"
say "total ${total}s"
echo "$manifest"
