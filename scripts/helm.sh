#!/usr/bin/env bash
# Helm chart checks for helm/flowhook, with a pinned helm built from source and cached.
#
#   scripts/helm.sh bin            print the path of the pinned helm (building it if needed)
#   scripts/helm.sh lint           helm lint --strict with every helm/flowhook/ci/*-values.yaml
#   scripts/helm.sh render [DIR]   helm template with every ci/*-values.yaml into DIR/<name>.yaml
#                                  (default: a new temporary directory); prints DIR
#   scripts/helm.sh strict DIR|FILE…  decode rendered objects into the Kubernetes and Prometheus
#                                  Operator Go types, refusing unknown and duplicate fields
#                                  (test/unit/helm/strictfields; the JS schemas allow unknown ones)
#   scripts/helm.sh readme         regenerate the parameters table of helm/flowhook/README.md
#   scripts/helm.sh check          lint, then the unit tests of test/unit/helm (they render the
#                                  chart with `render` and validate every object against the
#                                  Kubernetes and Prometheus Operator schemas)
#   scripts/helm.sh helm ARGS…     run the pinned helm
#
# helm comes from HELM_BIN when set; otherwise `go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION`
# (the Go module proxy) builds it once into $FLOWHOOK_CACHE_DIR/helm/$HELM_VERSION/ (default
# ~/.cache/flowhook): a few minutes the first time, nothing afterwards. Needs Go 1.24 or newer
# (also for `strict`, which `go run`s a small checker; its first build takes a minute or two).
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.19.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$ROOT/helm/flowhook"
CACHE_DIR="${FLOWHOOK_CACHE_DIR:-$HOME/.cache/flowhook}"
RELEASE=flowhook
NAMESPACE=flowhook

log() { echo "helm.sh: $*" >&2; }

# Go: on PATH, else the usual tarball location (/usr/local/go), which a non-login PATH may miss.
GO="${GO:-$(command -v go 2>/dev/null || true)}"
if [ -z "$GO" ] && [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; fi

need_go() {
  if [ -z "$GO" ]; then
    log "$1 needs Go 1.24 or newer (go.dev/dl; Debian 12's golang-go is 1.19, too old)."
    log "Install it, or set HELM_BIN to a helm 3 binary for the helm part."
    exit 1
  fi
}

ensure_helm() {
  if [ -n "${HELM_BIN:-}" ]; then
    if [ ! -x "$HELM_BIN" ]; then
      log "HELM_BIN=$HELM_BIN is not an executable"
      exit 1
    fi
    echo "$HELM_BIN"
    return
  fi
  local dir="$CACHE_DIR/helm/$HELM_VERSION"
  local bin="$dir/helm"
  if [ -x "$bin" ]; then
    echo "$bin"
    return
  fi
  need_go "building helm $HELM_VERSION (not cached in $dir)"
  mkdir -p "$dir"
  # One build at a time (jest workers, CI steps); the binary appears by an atomic rename.
  exec 9>"$dir/.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  if [ ! -x "$bin" ]; then
    local tmp
    tmp="$(mktemp -d "$dir/build.XXXXXX")"
    log "building helm $HELM_VERSION with go install (a few minutes the first time; cached in $dir)…"
    if ! CGO_ENABLED=0 GOBIN="$tmp" "$GO" install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2; then
      rm -rf "$tmp"
      log "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed"
      exit 1
    fi
    mv -f "$tmp/helm" "$bin"
    rm -rf "$tmp"
  fi
  exec 9>&-
  echo "$bin"
}

values_files() {
  local f
  for f in "$CHART"/ci/*-values.yaml; do
    [ -e "$f" ] && echo "$f"
  done
}

cmd_lint() {
  local helm f
  helm="$(ensure_helm)"
  while read -r f; do
    log "helm lint --strict -f ${f#"$ROOT"/}"
    "$helm" lint "$CHART" --strict --namespace "$NAMESPACE" -f "$f" >&2
  done < <(values_files)
}

cmd_render() {
  local helm out f name
  helm="$(ensure_helm)"
  out="${1:-}"
  if [ -z "$out" ]; then out="$(mktemp -d "${TMPDIR:-/tmp}/flowhook-helm.XXXXXX")"; fi
  mkdir -p "$out"
  while read -r f; do
    name="$(basename "$f" -values.yaml)"
    "$helm" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" -f "$f" >"$out/$name.yaml"
    log "rendered ${f#"$ROOT"/} -> $out/$name.yaml"
  done < <(values_files)
  echo "$out"
}

cmd_strict() {
  local files=() a
  if [ $# -eq 0 ]; then
    log "strict: give the rendered files, or a directory of them"
    exit 2
  fi
  for a in "$@"; do
    if [ -d "$a" ]; then
      files+=("$(cd "$a" && pwd)"/*.yaml)
    else
      files+=("$(cd "$(dirname "$a")" && pwd)/$(basename "$a")")
    fi
  done
  need_go "strict (test/unit/helm/strictfields)"
  (cd "$ROOT/test/unit/helm/strictfields" && "$GO" run . "${files[@]}")
}

cmd=${1:-check}
shift || true
case "$cmd" in
  bin) ensure_helm ;;
  lint) cmd_lint ;;
  render) cmd_render "$@" ;;
  strict) cmd_strict "$@" ;;
  readme)
    cd "$ROOT"
    UPDATE_CHART_README=1 npx jest --selectProjects unit -- test/unit/helm/chart-readme.test.ts
    ;;
  check)
    cmd_lint
    cd "$ROOT"
    npx jest --selectProjects unit -- test/unit/helm
    ;;
  helm)
    helm="$(ensure_helm)"
    exec "$helm" "$@"
    ;;
  *)
    sed -n '2,/^set -euo pipefail$/p' "$0" | sed '$d' >&2
    exit 2
    ;;
esac
