#!/usr/bin/env bash
# The .deb on a clean Debian 12: `debootstrap --variant=minbase bookworm` (made once, kept in
# $FERVID_PACKAGE_CACHE, default /var/cache/fervid, outside the clone), then in a throw-away
# copy of it: apt-get install ./fervid_*.deb (the dependencies come from Debian, no recommends),
# fervid --version, fervid analyze of the sample compared byte for byte with the build tree's
# timeline, and apt-get remove + autoremove leaving the file system as it was.
# Usage: test-package.sh DEB BUILD_TREE_BINARY SAMPLE          (run by `make test-package`)
set -euo pipefail
cd "$(dirname "$0")/../.."
deb=$(readlink -f "$1") bin=$(readlink -f "$2") sample=$(readlink -f "$3")
cache=${FERVID_PACKAGE_CACHE:-/var/cache/fervid}
mirror=${FERVID_DEBIAN_MIRROR:-http://deb.debian.org/debian}
base=$cache/bookworm-minbase
t0=$(date +%s)
say() { echo "test-package: [$(( $(date +%s) - t0 )) s] $*"; }
fail() { echo "test-package: FAIL: $*" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive

# 0. make install / make uninstall round trip into a scratch DESTDIR: every file in place, then none.
stage=$(mktemp -d)
make --no-print-directory install-files DESTDIR="$stage" PREFIX=/opt/fervid >/dev/null
for f in bin/fervid share/fervid/models/mini-xception.safetensors share/fervid/models/mtcnn.safetensors \
         share/man/man1/fervid.1 share/man/man1/fervid.analyze.1 share/bash-completion/completions/fervid \
         share/zsh/site-functions/_fervid share/fish/vendor_completions.d/fervid.fish; do
  [ -s "$stage/opt/fervid/$f" ] || { rm -rf "$stage"; fail "make install did not write \$PREFIX/$f"; }
done
make --no-print-directory uninstall DESTDIR="$stage" PREFIX=/opt/fervid >/dev/null
left=$(find "$stage" -type f -o -type l)
rm -rf "$stage"
[ -z "$left" ] || fail "make uninstall left: $left"
say "make install + uninstall (DESTDIR, PREFIX=/opt/fervid): all files written, then none left"
command -v debootstrap >/dev/null || { say "installing debootstrap"; apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }

# 1. The cached clean root: made once (a few minutes), published by rename so a half-made one is
#    never used. Sources as on a stock Debian 12: main, updates, security.
mkdir -p "$cache"
exec 9>"$cache/lock"; flock -x 9     # one run at a time makes or refreshes the cached root
if [ ! -x "$base/usr/bin/apt-get" ]; then
  say "debootstrap --variant=minbase bookworm into $base (first run only)"
  rm -rf "$base.tmp" "$cache/lists.stamp"
  debootstrap --variant=minbase bookworm "$base.tmp" "$mirror" > "$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; fail "debootstrap failed (log: $cache/debootstrap.log)"; }
  security=${mirror%/debian}/debian-security
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
    "$mirror" "$mirror" "$security" > "$base.tmp/etc/apt/sources.list"
  rm -rf "$base.tmp/var/cache/apt/archives/"*.deb
  mv "$base.tmp" "$base"
fi
# Package lists are refreshed in the cached root once a day, so a run's own `apt-get update`
# fetches little more than the signed Release files.
if [ -z "$(find "$cache/lists.stamp" -mmin -1440 2>/dev/null)" ]; then
  say "apt-get update in the cached root"
  chroot "$base" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin apt-get update -qq || fail "apt-get update in $base"
  chroot "$base" apt-get clean
  touch "$cache/lists.stamp"
fi
flock -u 9

# 2. A throw-away copy, with /proc (fervid finds its models through /proc/self/exe) and apt's
#    download cache shared between runs (so a warm run downloads nothing).
root=$(mktemp -d "$cache/run.XXXXXX")
host=$(mktemp -d)   # the build tree's side: its timeline, logs, file lists
mounts=()
cleanup() {
  for ((i=${#mounts[@]}-1; i>=0; i--)); do umount -l "${mounts[i]}" 2>/dev/null || true; done
  rm -rf "$host"
  if [ -n "${FERVID_KEEP_ROOT:-}" ]; then say "kept $root"; else rm -rf "$root"; fi
}
trap cleanup EXIT
cp -a "$base/." "$root/"
# The copy is thrown away: dpkg need not fsync every file it unpacks (halves the install time).
echo force-unsafe-io > "$root/etc/dpkg/dpkg.cfg.d/fervid-test-unsafe-io"
mkdir -p "$cache/archives/partial"
mount -t proc proc "$root/proc"; mounts+=("$root/proc")
mount --bind "$cache/archives" "$root/var/cache/apt/archives"; mounts+=("$root/var/cache/apt/archives")
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

# Everything on the file system but the package manager's own state and caches.
snapshot() {
  (cd "$root" && find . -xdev \( -path ./proc -o -path ./tmp -o -path ./dev -o -path ./run \
     -o -path ./var/cache -o -path ./var/lib/apt -o -path ./var/lib/dpkg -o -path ./var/log \) -prune -o -print) | sort
}
snapshot > "$host/before"

in_root apt-get update -qq || fail "apt-get update in the clean root"
say "clean root ready (copy of $base)"
cp "$deb" "$root/tmp/"
say "apt-get install ./$(basename "$deb") in a clean Debian 12 (minbase)"
in_root apt-get install -y -qq --no-install-recommends "/tmp/$(basename "$deb")" > "$root/tmp/install.log" 2>&1 \
  || { tail -20 "$root/tmp/install.log" >&2; fail "apt-get install"; }
[ -z "$(in_root ldd /usr/bin/fervid | grep 'not found' || true)" ] || fail "unresolved libraries: $(in_root ldd /usr/bin/fervid | grep 'not found')"
! in_root ldd /usr/bin/fervid | grep -qi 'swift\|foundation' || fail "the installed fervid loads Swift libraries"
[ ! -e "$root/usr/bin/swift" ] && [ ! -e "$root/opt/swift" ] || fail "the clean root has a Swift toolchain"

# 3. --version: the same version and commit as the build tree's binary.
got=$(in_root fervid --version) want=$("$bin" --version)
[ "$got" = "$want" ] || fail "fervid --version in the root says '$got', the build tree's '$want'"
say "fervid --version: $got"
for f in usr/share/man/man1/fervid.1.gz usr/share/man/man1/fervid.analyze.1.gz usr/share/bash-completion/completions/fervid \
         usr/share/zsh/vendor-completions/_fervid usr/share/fish/vendor_completions.d/fervid.fish \
         usr/share/doc/fervid/copyright usr/share/fervid/models/mini-xception.safetensors; do
  [ -s "$root/$f" ] || fail "/$f is not installed"
done

# 4. The sample, analyzed by the installed package (models found next to the binary, run from /)
#    and by the build tree's binary: the same timeline, byte for byte.
cp "$sample" "$root/tmp/sample.mp4"
in_root sh -c 'cd / && fervid analyze /tmp/sample.mp4 -o /tmp/sample.emotions.csv' > "$root/tmp/analyze.log" 2>&1 \
  || { cat "$root/tmp/analyze.log" >&2; fail "fervid analyze in the clean root"; }
"$bin" analyze "$sample" -o "$host/sample.emotions.csv" > "$host/analyze.log" 2>&1 \
  || { cat "$host/analyze.log" >&2; fail "fervid analyze in the build tree"; }
rows=$(($(wc -l < "$host/sample.emotions.csv") - 1))
cmp -s "$host/sample.emotions.csv" "$root/tmp/sample.emotions.csv" \
  || { diff "$host/sample.emotions.csv" "$root/tmp/sample.emotions.csv" | head -10 >&2
       echo "FFmpeg here: $(dpkg-query -W -f='${Version}' libavcodec59), in the root: $(in_root dpkg-query -W -f='${Version}' libavcodec59)" >&2
       fail "the installed fervid's timeline differs from the build tree's"; }
[ "$rows" -gt 0 ] || fail "empty timeline"
say "analyze $(basename "$sample"): $rows rows, identical to the build tree's"

# 5. apt-get remove, then autoremove of the dependencies it pulled in: nothing of the package is
#    left, and the file system is as before the install.
in_root dpkg -L fervid | sort > "$host/files"
in_root sh -c 'rm -f /tmp/*.emotions.csv /tmp/*.emotions.csv.json'
in_root apt-get remove -y -qq fervid > "$host/remove.log" 2>&1 || { cat "$host/remove.log" >&2; fail "apt-get remove"; }
left=$(while read -r f; do [ -f "$root$f" ] || [ -L "$root$f" ] && echo "$f"; done < "$host/files" || true)
[ -z "$left" ] || fail "apt-get remove left: $left"
state=$(in_root dpkg-query -W -f='${db:Status-Abbrev}' fervid 2>/dev/null || true)
case "$state" in ''|un*|pn*) ;; *) fail "after apt-get remove, dpkg says fervid is '$state'" ;; esac
in_root apt-get autoremove -y -qq --purge > "$host/autoremove.log" 2>&1 || { cat "$host/autoremove.log" >&2; fail "apt-get autoremove"; }
snapshot > "$host/after"
changed=$(diff "$host/before" "$host/after" || true)
[ -z "$changed" ] || { echo "$changed" | head -20 >&2; fail "the file system differs after remove + autoremove"; }
say "apt-get remove: none of its $(grep -c . "$host/files") paths left; autoremove restored the clean root"
say "ok ($(( $(date +%s) - t0 )) s)"
