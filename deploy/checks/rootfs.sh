# shellcheck shell=bash
# Helpers for the emulated-device checks (deploy/checks/pi_check.sh, deploy/checks/ncs2_check.sh): a cached Debian
# root, mounts that are undone on exit, an unprivileged user with real sudo, this checkout inside.
# Sourced, not run. Needs root.

# shellcheck disable=SC2034 # used by the scripts that source this file
ROOTFS_CACHE="${FER_EDGE_ROOTFS:-${XDG_CACHE_HOME:-$HOME/.cache}/fer-edge/rootfs}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_MOUNTS=()

say() { printf '== %s\n' "$*" >&2; }

check_options() {  # check_options NAME HELP_LINES "$@": --python (PY), --fresh (FRESH), --cpus (CPUS, if set)
  local name="$1" help="$2"
  shift 2
  PY="${PYTHON:-python3}"
  FRESH=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --python) PY="$2"; shift 2 ;;
      --cpus) [ -n "${CPUS+set}" ] || break; CPUS="$2"; shift 2 ;;
      --fresh) FRESH=1; shift ;;
      -h|--help) sed -n "2,${help}p" "$0"; exit 0 ;;
      *) break ;;
    esac
  done
  if [ $# -gt 0 ]; then
    echo "$name: unknown option '$1' (see --help)" >&2
    exit 2
  fi
}

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "$1: needs root (chroot, mounts, debootstrap): run it with sudo" >&2
    exit 2
  fi
}

abs_python() {  # abs_python PY: an absolute path (the checks cd to the repository)
  case "$1" in
    */*) echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" ;;
    *) command -v "$1" ;;
  esac
}

need_host_packages() {  # need_host_packages COMMAND:PACKAGE ...
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing host packages: ${missing[*]}"
    apt-get install -y -q "${missing[@]}" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
  fi
}

rootfs_umount_all() {
  local i
  for ((i = ${#_MOUNTS[@]} - 1; i >= 0; i--)); do
    umount -l "${_MOUNTS[$i]}" 2>/dev/null || true
  done
  _MOUNTS=()
}

rootfs_mount() {  # rootfs_mount ROOT: proc, sys, dev, dev/pts and DNS for apt and pip
  local root="$1" m
  for m in proc sys dev dev/pts; do
    mkdir -p "$root/$m"
    mountpoint -q "$root/$m" && continue
    case "$m" in
      proc) mount -t proc proc "$root/proc" ;;
      sys) mount --bind /sys "$root/sys" && mount -o remount,bind,ro "$root/sys" ;;
      *) mount --bind "/$m" "$root/$m" ;;
    esac
    _MOUNTS+=("$root/$m")
  done
  trap rootfs_umount_all EXIT
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  grep -qw "$(hostname)" "$root/etc/hosts" 2>/dev/null || echo "127.0.1.1 $(hostname)" >> "$root/etc/hosts"  # for sudo
  rootfs_trust_host_cas "$root"
}

rootfs_trust_host_cas() {  # the host's local CA roots (e.g. a TLS-inspecting proxy's) inside ROOT too
  local root="$1" crt
  compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null || return 0
  mkdir -p "$root/usr/local/share/ca-certificates" "$root/etc/ssl/certs"
  for crt in /usr/local/share/ca-certificates/*.crt; do
    cp "$crt" "$root/usr/local/share/ca-certificates/"
  done
  # The host's bundle already holds them (update-ca-certificates under emulation takes minutes);
  # pip's own certifi bundle does not, so point pip at the system one.
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$root/etc/pip.conf"
}

rootfs_user() {  # rootfs_user ROOT NAME: a login user with passwordless (real) sudo
  local root="$1" name="$2"
  if ! chroot "$root" id "$name" >/dev/null 2>&1; then
    chroot "$root" useradd -m -s /bin/bash -G sudo "$name"
  fi
  echo "$name ALL=(ALL) NOPASSWD:ALL" > "$root/etc/sudoers.d/$name"
  chmod 0440 "$root/etc/sudoers.d/$name"
}

rootfs_checkout() {  # rootfs_checkout ROOT USER DEST: this checkout's files (tracked + new, not ignored)
  local root="$1" name="$2" dest="$3"
  rm -rf "${root:?}$dest"
  mkdir -p "$root$dest"
  (cd "$REPO" && git ls-files -co --exclude-standard -z | tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$root$dest"
  chroot "$root" chown -R "$name:$name" "$dest"
}

rootfs_ensure() {  # rootfs_ensure ROOT PACKAGE...: install what a cached root lacks
  local root="$1" pkg missing=()
  shift
  for pkg in "$@"; do
    chroot "$root" dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  say "installing ${missing[*]} in $root"
  chroot "$root" apt-get update -q >/dev/null
  chroot "$root" apt-get install -y -q "${missing[@]}" >/dev/null
}

as_user() {  # as_user ROOT NAME COMMAND: a login shell of NAME inside ROOT (HOME, USER, PATH set)
  chroot "$1" runuser -l "$2" -c "$3"
}

debian_mirror() {  # the Debian mirror this host's apt uses (FER_EDGE_DEBIAN_MIRROR overrides)
  if [ -n "${FER_EDGE_DEBIAN_MIRROR:-}" ]; then echo "$FER_EDGE_DEBIAN_MIRROR"; return; fi
  local found
  found="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | sed -nE 's#^(deb|URIs:)[[:space:]]+(\[[^]]*\][[:space:]]+)?([a-z]+://[^[:space:]]*/debian)/?([[:space:]].*)?$#\3#p' \
    | head -n 1)"
  echo "${found:-http://deb.debian.org/debian}"
}
