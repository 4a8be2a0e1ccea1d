#!/usr/bin/env bash
# Installs what the fwctl VM test needs from Debian's registry: the Linux 7.3 source
# (trixie-backports), the tools to build it, QEMU 10 (bookworm-backports) and busybox.
# bookworm-backports is pinned at 100 (used only when asked for by -t); trixie-backports
# is closed (-1) except for the kernel source, so nothing else on the machine is ever
# upgraded from a newer release's builds. `--check` only reports whether all is present.
set -euo pipefail

packages=(linux-source-7.3 flex bison bc libelf-dev libssl-dev cpio kmod xz-utils
          busybox-static qemu-system-x86)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${1:-}" = "--check" ]; then
    [ "${#missing[@]}" -eq 0 ] && exit 0
    echo "vm: missing Debian packages: ${missing[*]}" >&2
    exit 1
fi
[ "${#missing[@]}" -eq 0 ] && exit 0

sources=/etc/apt/sources.list.d/fwctl-run-vm.sources
cat > "$sources" <<'SOURCES'
# Added by fwctl-run's tests/vm/install-deps.sh for the kernel VM test.
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
cat > /etc/apt/preferences.d/fwctl-run-vm <<'PINS'
Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100

Package: *
Pin: release n=trixie-backports
Pin-Priority: -1

Package: linux-source-7.3
Pin: release n=trixie-backports
Pin-Priority: 500
PINS

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# QEMU 10 from bookworm-backports, the version this test is checked with (bookworm has 7.2).
apt-get install -y -q --no-install-recommends -t bookworm-backports qemu-system-x86
build_packages=()
for p in "${packages[@]}"; do [ "$p" = qemu-system-x86 ] || build_packages+=("$p"); done
apt-get install -y -q --no-install-recommends "${build_packages[@]}"
