#!/usr/bin/env bash
# `npm run e2e`: the GitOps loop against a real kube-apiserver and the real Flux controllers.
#   1. builds tagflow (lib/) and the upstream programs (e2e/build/build.sh; cached, keyed by version),
#   2. runs the cluster smoke test and the scenario (e2e/**/*.e2e.ts) with jest,
#   3. prints the scenario's table; the JSON report is at $TAGFLOW_E2E_REPORT (default e2e/report.json).
# A failed run keeps its work folder (every process's log under logs/) and says where it is.
# Env: TAGFLOW_E2E_WORKDIR (default: a new temp folder), TAGFLOW_E2E_KEEP=1 (keep it after a pass too),
#      TAGFLOW_E2E_RECORD=1 (write the measured latencies to src/latency/measured-e2e.json),
#      TAGFLOW_E2E_JEST_JSON (jest's --json results, for CI's pass/fail count).
set -uo pipefail
cd "$(dirname "$0")/.."

npm run --silent build || exit 1

# Debian's docker-registry is the run's OCI registry.
if ! command -v docker-registry >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry) >/tmp/tagflow-e2e-apt.log 2>&1 \
      || { echo "e2e: apt-get install docker-registry failed (see /tmp/tagflow-e2e-apt.log)"; exit 1; }
  else
    echo "e2e: docker-registry is not installed and this is not root: apt-get install docker-registry"; exit 1
  fi
fi

build_out=$(mktemp "${TMPDIR:-/tmp}/tagflow-e2e-build-XXXXXX")
t0=$(date +%s)
bash e2e/build/build.sh >"$build_out" || { echo "e2e: the upstream build failed:"; cat "$build_out"; exit 1; }
t1=$(date +%s)
# This run's manifest (what was built, what came from the cache, each build's seconds) goes into the report;
# a copy, because the warm build below rewrites the cache's manifest with everything cached.
manifest=$(mktemp "${TMPDIR:-/tmp}/tagflow-e2e-manifest-XXXXXX")
cp "$(tail -n 1 "$build_out")" "$manifest"
rm -f "$build_out"
built=$(node -e 'const m=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const c=Object.values(m.components);console.log(`${c.filter(x=>!x.cached).length} of ${c.length} components built`)' "$manifest")
# A second build right away is the warm case: everything comes from the cache.
bash e2e/build/build.sh >/dev/null 2>&1
t2=$(date +%s)
echo "e2e: upstream build ${built}: this run $((t1 - t0))s, warm (cached) $((t2 - t1))s"
export TAGFLOW_E2E_RUN_MANIFEST="$manifest"

given="${TAGFLOW_E2E_WORKDIR:-}"
workdir="${given:-$(mktemp -d "${TMPDIR:-/tmp}/tagflow-e2e-XXXXXX")}"
mkdir -p "$workdir"
export TAGFLOW_E2E_WORKDIR="$workdir"
export TAGFLOW_E2E_REPORT="${TAGFLOW_E2E_REPORT:-$PWD/e2e/report.json}"
export TAGFLOW_E2E_BUILD_SECONDS="$((t1 - t0))" TAGFLOW_E2E_WARM_BUILD_SECONDS="$((t2 - t1))"
json=("--json" "--outputFile=${TAGFLOW_E2E_JEST_JSON:-$workdir/jest.json}")
s0=$(date +%s)
npx jest -c e2e/jest.config.js --runInBand "${json[@]}"
status=$?
echo "e2e: scenario and smoke test $(( $(date +%s) - s0 ))s; report ${TAGFLOW_E2E_REPORT}"
if [ "$status" = 0 ] && [ "${TAGFLOW_E2E_RECORD:-0}" = 1 ]; then
  # The measured figures `tagflow latency` and the README quote beside the estimates.
  node -e '
    const r = require(process.argv[1]);
    const out = { measuredAt: r.startedAt.slice(0, 10), how: process.argv[3],
      rows: r.latencies.map(({ tier, path, pushToCommitSeconds, pushToDeployedSeconds }) => ({ tier, path, pushToCommitSeconds, pushToDeployedSeconds })) };
    require("fs").writeFileSync(process.argv[2], JSON.stringify(out, null, 2) + "\n");
  ' "$TAGFLOW_E2E_REPORT" src/latency/measured-e2e.json \
    "npm run e2e: real kube-apiserver 1.36 and Flux 2.9 controllers, kwok nodes, docker-registry and a git server on 127.0.0.1; e2e stack intervals: bootstrap source 1m, dev scan 30s, staging scan 1m; one sample per row"
  echo "e2e: recorded the measured latencies in src/latency/measured-e2e.json"
fi
if [ "$status" != 0 ]; then
  echo "e2e: FAILED; kept $workdir: each process's log is in scenario/logs/ and smoke/logs/ (<process>.log), the git server's requests in scenario/logs/git-server.log"
elif [ "${TAGFLOW_E2E_KEEP:-0}" != 1 ] && [ -z "$given" ]; then
  rm -rf "$workdir"
fi
rm -f "$manifest"
exit "$status"
