#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager from Debian bookworm's `kubernetes` source
# package (no registry reachable here ships the binaries; ../shared/recipes/kubernetes.md) and
# caches them under $VOLT_CACHE/kubernetes/<debian-version>/bin, outside the checkout, so that
# only the first run pays the ~10 minute build. Idempotent; safe to run concurrently (flock).
# The last line of stdout is the bin directory.
set -euo pipefail

CACHE=${VOLT_CACHE:-$HOME/.cache/volt}
# The version verified by the recipe; the fast path checks it without touching the network.
PINNED=${KUBE_DEB_VERSION:-1.20.5+really1.20.2-1.1+deb12u1}
PKGS=(golang-go etcd-server jq rsync dpkg-dev openssl make)
root="$CACHE/kubernetes"
start=$SECONDS

log() { echo "[kubernetes] $(date +%H:%M:%S) +$((SECONDS - start))s $*" >&2; }
have() { [ -x "$1/kube-apiserver" ] && [ -x "$1/kube-controller-manager" ]; }

# One lock around everything: concurrent runs would otherwise fight over dpkg's lock or both
# build. Uncontended it costs nothing, and a run that waits finds the binaries cached.
mkdir -p "$root"
exec 9>"$root/.lock"
if ! flock -n 9; then
    log "another run holds $root/.lock (building?); waiting"
    flock 9
fi

# Packages first: the tests need etcd from PATH even when the binaries are already cached.
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PKGS[@]}" 2>/dev/null || true)
missing=()
for p in "${PKGS[@]}"; do
    grep -qx "$p install ok installed" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    SUDO=(); [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
    "${SUDO[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2
fi

if have "$root/$PINNED/bin"; then
    log "cached: $root/$PINNED/bin"
    echo "$root/$PINNED/bin"
    exit 0
fi

# Private apt state with deb-src entries derived from the machine's own sources, so that
# /etc/apt is never modified.
apt_dir="$root/apt"
mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial"
sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
    >"$apt_dir/sources.list.d/debian-src.sources"
APT_OPTS=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
          -o "Dir::State::Lists=$apt_dir/lists")
log "updating private deb-src lists"
apt-get "${APT_OPTS[@]}" update -qq >&2

# Use the pinned version when the mirror still has it, else the newest one (security updates
# replace versions); the cache is keyed by whatever version is built.
versions=$(apt-cache "${APT_OPTS[@]}" showsrc kubernetes | sed -n 's/^Version: //p' | sort -u)
if grep -qxF "$PINNED" <<<"$versions"; then
    version=$PINNED
else
    version=$(sort -V <<<"$versions" | tail -n1)
    [ -n "$version" ] || { log "no kubernetes source package found"; exit 1; }
    log "pinned $PINNED not on the mirror; using $version"
fi
bin="$root/$version/bin"
if have "$bin"; then
    log "cached: $bin"
    echo "$bin"
    exit 0
fi

build=$(mktemp -d "$CACHE/kubernetes-build.XXXXXX")
# The build tree is 2.2 GB: remove it however the script ends.
trap 'rm -rf "$build"' EXIT
cd "$build"
log "downloading source kubernetes=$version into $build"
apt-get "${APT_OPTS[@]}" source --download-only -qq "kubernetes=$version" >&2
log "unpacking"
dpkg-source -x kubernetes_*.dsc k8s >/dev/null
cd k8s
# Debian's rules build in a GOPATH layout; a plain `go build -mod=vendor` fails.
mkdir -p .go/src/k8s.io
ln -sfn ../../.. .go/src/k8s.io/kubernetes
log "building cmd/kube-apiserver cmd/kube-controller-manager (about 10 minutes cold on 2 cores)"
GOPATH=$PWD/.go GOCACHE=$build/gocache CGO_ENABLED=0 \
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >&2
log "build finished"

out=_output/local/bin/linux/amd64
[ -x "$out/kube-apiserver" ] || out=$(dirname "$(find _output -type f -name kube-apiserver | head -n1)")
mkdir -p "$bin"
# Copy under temporary names, then rename: a reader never sees a half-written binary.
for b in kube-apiserver kube-controller-manager; do
    cp "$out/$b" "$bin/.$b.tmp"
    chmod 755 "$bin/.$b.tmp"
    mv -f "$bin/.$b.tmp" "$bin/$b"
done
log "installed into $bin; removing the build tree"
echo "$bin"
