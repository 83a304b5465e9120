#!/usr/bin/env bash
# Builds the real Kubernetes control-plane binaries the tests run, from the Go module proxy, into
# target/harness/bin (override with ACP_HARNESS_OUT=/dir; binaries then go to /dir/bin):
#   bin/            kube-apiserver, kube-controller-manager, kube-scheduler (Kubernetes 1.34, play 1.31–1.34),
#                   etcd (embedded etcd 3.6), kubectl, kwok (fake nodes)            — target "main"
#   bin/k8s-1.30/   kube-apiserver, kube-controller-manager, kube-scheduler of Kubernetes 1.30, for clusters
#                   that must report 1.30 (emulation reaches back to 1.31 only)    — target "k8s-1.30"
#   bin/cluster-api, bin/cluster-api-kubeadm-control-plane
#                   the Cluster API core manager and its kubeadm control plane provider (sigs.k8s.io/cluster-api
#                   at the version in cluster-api-version), for the ClusterAPI suite  — target "cluster-api"
# ACP_HARNESS_TARGETS="main" builds only the main target (default: "main k8s-1.30 cluster-api").
#
# Idempotent: a target whose sources, go.mod/go.sum, this script and the Go version are unchanged is not
# rebuilt. The Go build and module caches (outside the repository) keep a rebuild in a fresh clone to links.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${ACP_HARNESS_OUT:-$repo/target/harness}"
bin="$out/bin"
targets="${ACP_HARNESS_TARGETS:-main k8s-1.30 cluster-api}"

if ! command -v go >/dev/null 2>&1; then
  echo "tests/harness/build.sh: Go (1.24 or newer) is needed to build the Kubernetes test binaries and was not found on PATH." >&2
  echo "Install Go (scripts/install-prereqs.sh does), or point ACP_HARNESS_BIN at a directory that already holds them." >&2
  exit 1
fi

export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

# The Kubernetes release a module builds; /version reports it unless a cluster chooses another.
kube_release() {
  awk '$1 == "k8s.io/kubernetes" { print $2 } $1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$1/go.mod" | head -n1
}

version_ldflags() {
  local release="$1" minor
  minor="$(echo "$release" | cut -d. -f2)"
  local flags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags="$flags -X $pkg.gitVersion=$release -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "$flags"
}

# stamp DIR FLAGS [PRUNE...]: hash of the Go version, flags, this script and DIR's Go sources.
stamp() {
  local dir="$1" flags="$2"
  shift 2
  local prune=()
  for p in "$@"; do prune+=(-path "./$p" -prune -o); done
  {
    go env GOVERSION GOOS GOARCH
    echo "$flags"
    sha256sum <"$here/build.sh"
    cd "$dir"
    find . "${prune[@]}" -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
}

# install STAGE DEST NAMES...: move freshly built binaries into place (each move is atomic).
install_binaries() {
  local stage="$1" dest="$2"
  shift 2
  mkdir -p "$dest"
  for b in "$@"; do mv -f "$stage/$b" "$dest/$b"; done
}

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9 # one build at a time; a second caller waits and then finds the binaries current

stage="$(mktemp -d "$out/stage.XXXXXX")"
trap 'rm -rf "$stage"' EXIT

# current_or_build NAME MODULE_DIR DEST STAMP BUILD_COMMAND NAMES...: build NAMES into DEST unless STAMP matches.
current_or_build() {
  local name="$1" dir="$2" dest="$3" want="$4" build="$5"
  shift 5
  local ok=yes
  [ "$(cat "$out/stamp-$name" 2>/dev/null)" = "$want" ] || ok=no
  for b in "$@"; do [ -x "$dest/$b" ] || ok=no; done
  if [ "$ok" = yes ]; then
    echo "harness target $name is current in $dest"
    return
  fi
  echo "building harness target $name into $dest (with an empty Go build cache this takes 10 to 20 minutes on 2 cores)"
  local started=$SECONDS
  (cd "$dir" && eval "$build")
  install_binaries "$stage" "$dest" "$@"
  echo "$want" >"$out/stamp-$name"
  echo "harness target $name built in $((SECONDS - started)) s"
}

for target in $targets; do
  case "$target" in
    main)
      release="$(kube_release "$here")"
      flags="$(version_ldflags "$release")"
      want="$(stamp "$here" "$flags" k8s-1.30)"
      current_or_build main "$here" "$bin" "$want" \
        'go build -trimpath -ldflags "$flags" -o "$stage/" ./cmd/... && (cd kwok && go build -trimpath -ldflags "-s -w" -o "$stage/kwok" .)' \
        kube-apiserver kube-controller-manager kube-scheduler etcd kubectl kwok
      ;;
    k8s-1.30)
      release="$(kube_release "$here/k8s-1.30")"
      flags="$(version_ldflags "$release")"
      want="$(stamp "$here/k8s-1.30" "$flags")"
      current_or_build k8s-1.30 "$here/k8s-1.30" "$bin/k8s-1.30" "$want" \
        'go build -trimpath -ldflags "$flags" -o "$stage/" ./cmd/...' \
        kube-apiserver kube-controller-manager kube-scheduler
      ;;
    cluster-api)
      # Built as released, from its own go.mod: `go install module@version` resolves nothing locally.
      capi="$(tr -d '[:space:]' <"$here/cluster-api-version")"
      want="$({ go env GOVERSION GOOS GOARCH; echo "$capi"; sha256sum <"$here/build.sh"; } | sha256sum | cut -d' ' -f1)"
      # The kubeadm control plane provider's main is a package named kubeadm: renamed so nobody takes it
      # for kubeadm itself.
      current_or_build cluster-api "$here" "$bin" "$want" \
        'GOBIN="$stage" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/cluster-api@$capi" "sigs.k8s.io/cluster-api/controlplane/kubeadm@$capi" && mv "$stage/kubeadm" "$stage/cluster-api-kubeadm-control-plane"' \
        cluster-api cluster-api-kubeadm-control-plane
      ;;
    *)
      echo "tests/harness/build.sh: unknown target $target in ACP_HARNESS_TARGETS (known: main k8s-1.30 cluster-api)" >&2
      exit 1
      ;;
  esac
done
echo "Kubernetes test binaries are ready in $bin"
