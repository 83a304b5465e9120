#!/usr/bin/env bash
# Builds the real Kubernetes control-plane binaries the tests run (kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd, kubectl, kwok) from the Go module proxy, into target/harness/bin.
# Idempotent: when the sources, go.mod/go.sum, this script and the Go version are unchanged it does nothing.
# The Go build and module caches (outside the repository) keep a rebuild in a fresh clone to a link step.
#
#   bash tests/harness/build.sh            build if needed, print the binaries' directory
#   ACP_HARNESS_OUT=/dir bash ...          cache somewhere else than <repo>/target/harness
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${ACP_HARNESS_OUT:-$repo/target/harness}"
bin="$out/bin"

if ! command -v go >/dev/null 2>&1; then
  echo "tests/harness/build.sh: Go (1.24 or newer) is needed to build the Kubernetes test binaries and was not found on PATH." >&2
  echo "Install Go (scripts/install-prereqs.sh does), or point ACP_HARNESS_BIN at a directory that already holds them." >&2
  exit 1
fi

export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

# The Kubernetes release the binaries are built from; /version reports it unless a cluster chooses another.
kube_release="$(awk '$1 == "k8s.io/kubernetes" { print $2 } $1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$here/go.mod" | head -n1)"
kube_minor="$(echo "$kube_release" | cut -d. -f2)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=$kube_release -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor -X $pkg.gitTreeState=clean"
done

stamp() {
  {
    go env GOVERSION GOOS GOARCH
    echo "$ldflags"
    cd "$here"
    find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum -o -name build.sh \) -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
}

binaries=(kube-apiserver kube-controller-manager kube-scheduler etcd kubectl kwok)
want="$(stamp)"

exec 9>"$(mkdir -p "$out" && echo "$out/.lock")"
flock 9 # one build at a time; a second caller waits and then finds the binaries current

current=yes
[ "$(cat "$out/stamp" 2>/dev/null)" = "$want" ] || current=no
for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || current=no; done
if [ "$current" = yes ]; then
  echo "Kubernetes test binaries are current ($kube_release) in $bin"
  exit 0
fi

echo "Building Kubernetes $kube_release test binaries into $bin (a cold Go cache takes about 10 minutes)"
stage="$(mktemp -d "$out/stage.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$stage/" ./cmd/...)
(cd "$here/kwok" && go build -trimpath -ldflags "-s -w" -o "$stage/kwok" .)
mkdir -p "$bin"
for b in "${binaries[@]}"; do mv -f "$stage/$b" "$bin/$b"; done
echo "$want" >"$out/stamp"
echo "Kubernetes test binaries are ready ($kube_release) in $bin"
