#!/usr/bin/env bash
# Builds RegionChat's Debian package and checks it:
#   packaging/deb.sh        -> build-deb/package/regionchat_<version>_<arch>.deb
# Release with Debian's hardening flags (dpkg-buildflags), without the tests, in its own
# build folder; Depends from dpkg-shlibdeps (CPack). Then the desktop entry, the AppStream
# metadata and the MIME type are validated and lintian is run on the package: an error
# from any of them fails the script (lintian's warnings are printed).
# Next: packaging/install-test.sh installs it into a clean Debian root and uses it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${REGIONCHAT_DEB_BUILD_DIR:-$root/build-deb}"
jobs="${JOBS:-$(nproc)}"
id=io.github.regionchat.RegionChat

"$root/packaging/install-deps.sh" deb
start=$(date +%s)
# Debian's flags: fortify, stack protector, relro/now, PIE; no -g (the package is stripped).
export DEB_BUILD_MAINT_OPTIONS="hardening=+all"
export DEB_CFLAGS_MAINT_STRIP="-g" DEB_CXXFLAGS_MAINT_STRIP="-g"
CXXFLAGS="$(dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"
export CXXFLAGS LDFLAGS
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DREGIONCHAT_BUILD_TESTS=OFF \
  -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >/dev/null
cmake --build "$build" -j"$jobs" --target regionchat regionchat-cli regionchat_spm regionchat_docs
echo "deb.sh: build took $(( $(date +%s) - start )) s"
rm -rf "$build/package"
(cd "$build" && cpack -G DEB >/dev/null)
deb="$(ls "$build"/package/regionchat_*.deb)"
echo "deb.sh: $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --field "$deb" Package Version Architecture Depends Recommends Installed-Size

echo "deb.sh: validating the desktop files"
desktop-file-validate "$root/resources/desktop/$id.desktop"
appstreamcli validate --no-net "$root/resources/desktop/$id.metainfo.xml"
mime_root=$(mktemp -d)
mkdir -p "$mime_root/mime/packages"
cp "$root/resources/desktop/$id.mime.xml" "$mime_root/mime/packages/$id.xml"
update-mime-database "$mime_root/mime"   # fails on a malformed MIME file
test -f "$mime_root/mime/application/x-regionchat-session.xml"
rm -rf "$mime_root"

echo "deb.sh: lintian"
# --fail-on error: warnings are listed (the README explains the ones that remain).
lintian --fail-on error --info --display-level ">=warning" "$deb" || {
  echo "deb.sh: lintian found errors" >&2
  exit 1
}
echo "deb.sh: ok: $deb"
