#!/usr/bin/env bash
# Builds what the fwctl VM test boots: a lean Linux kernel from Debian's linux-source
# package with tests/vm/kernel.config, its modules, and the kernel's own CXL mock
# (tools/testing/cxl, the cxl_test family). The result is cached outside the work tree,
# keyed by the source package's version and this directory's inputs, so a machine builds
# it once. Prints the cache directory on stdout (everything else goes to stderr).
#
#   tests/vm/build.sh            build if needed, print the directory
#   FWCTL_VM_CACHE=DIR           cache root (default: ~/.cache/fwctl-run/vm)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
log() { echo "vm/build: $*" >&2; }
die() { log "error: $*"; exit 1; }

"$here/install-deps.sh" --check >&2 || {
    if [ "$(id -u)" -eq 0 ]; then "$here/install-deps.sh" >&2
    else die "missing build dependencies; run tests/vm/install-deps.sh as root"; fi
}

tarball=$(ls /usr/src/linux-source-7.3.tar.xz 2>/dev/null) \
    || die "no /usr/src/linux-source-7.3.tar.xz (Debian package linux-source-7.3)"
pkg_version=$(dpkg-query -W -f='${Version}' linux-source-7.3)
inputs_hash=$(cat "$here/kernel.config" "$here/build.sh" | sha256sum | cut -c1-12)
cache_root="${FWCTL_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fwctl-run/vm}"
out="$cache_root/linux-$pkg_version-$inputs_hash"

# Complete means every part is there: a cache pruned from outside (the modules tree gone,
# say) is built again rather than trusted.
if [ -f "$out/complete" ] && [ -f "$out/bzImage" ] && [ -s "$out/release" ] \
    && [ -f "$out/root/lib/modules/$(cat "$out/release")/modules.dep" ]; then
    echo "$out"
    exit 0
fi
[ -f "$out/complete" ] && log "the cached kernel in $out is incomplete (modules missing); building it again"

log "building into $out (Debian linux-source-7.3 $pkg_version); this takes a while once"
rm -rf "$out"
mkdir -p "$out/src" "$out/build"
tar -xf "$tarball" -C "$out/src" --strip-components=1
src="$out/src"
build="$out/build"
jobs=$(nproc)

make -s -C "$src" O="$build" KCONFIG_ALLCONFIG="$here/kernel.config" allnoconfig
# A symbol whose dependencies are not met is silently dropped by Kconfig; refuse that.
missing=0
while read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    if ! grep -qx "$line" "$build/.config"; then
        log "kernel.config line did not take effect: $line"
        missing=1
    fi
done < "$here/kernel.config"
[ "$missing" -eq 0 ] || die "fix tests/vm/kernel.config (a dependency is missing)"

make -s -C "$src" O="$build" -j"$jobs" bzImage modules
release=$(make -s -C "$src" O="$build" kernelrelease)
make -s -C "$src" O="$build" INSTALL_MOD_PATH="$out/root" INSTALL_MOD_STRIP=1 DEPMOD=true modules_install

# The mock replaces the in-tree CXL modules of the same names with versions whose
# platform hooks it wraps; build it against this tree and put it in their place.
make -s -C "$src" O="$build" M="$src/tools/testing/cxl" -j"$jobs" modules
moddir="$out/root/lib/modules/$release"
for ko in $(find "$src/tools/testing/cxl" -name '*.ko'); do
    name=$(basename "$ko")
    find "$moddir/kernel" -name "$name" -delete
    install -D -m 0644 "$ko" "$moddir/extra/$name"
    strip --strip-debug "$moddir/extra/$name"
done
depmod -b "$out/root" "$release"

cp "$build/arch/x86/boot/bzImage" "$out/bzImage"
echo "$release" > "$out/release"
# Keep the result, drop the 1+ GiB of sources and objects.
rm -rf "$src" "$build"
touch "$out/complete"
log "done: $out"
echo "$out"
