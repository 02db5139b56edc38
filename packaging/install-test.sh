#!/usr/bin/env bash
# Installs RegionChat's .deb into a clean Debian bookworm root and uses it as a user would:
#   packaging/install-test.sh [DEB]      (default: build-deb/package/regionchat_*.deb,
#                                         made by packaging/deb.sh when missing)
# In the root (debootstrap --variant=minbase, kept as a tarball in /var/cache so later runs
# start from the same clean state without downloading it again):
#   1. apt installs the package, pulling its dependencies from Debian's mirror;
#   2. as an ordinary user: --version, the man pages, `regionchat-cli ask` on the sample with
#      the embedded model from /usr/bin, the session MIME type and its default application;
#   3. the GUI started under Xvfb through the desktop entry (`gio launch`, as a double-click
#      does) on a saved session, and a screenshot of it; the icons, rendered into a sheet;
#   4. the package purged: every file it installed is gone, nothing named regionchat is left
#      outside the user's home, nothing new appeared outside it, and the user data left is
#      listed.
# Screenshots and logs go to build-deb/install-test/. Needs root (chroot, mounts). Takes
# about 10 minutes the first time (the root and LibTorch, Qt, OpenCV downloaded), 5 after.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
id=io.github.regionchat.RegionChat
mirror="${REGIONCHAT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${REGIONCHAT_ROOT_CACHE:-/var/cache/regionchat-install-test/bookworm-minbase.tar.gz}"
work="${REGIONCHAT_INSTALL_TEST_DIR:-/var/tmp/regionchat-install-test}"
out="$root/build-deb/install-test"
rootfs="$work/root"
sample=/usr/share/regionchat/samples/scene_1000000000.png
question="What is in the region <region>?"
box=154,175,221,242   # the sample's red circle

if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E "$0" "$@"
fi
deb="${1:-}"
if [ -z "$deb" ]; then
  deb="$(ls "$root"/build-deb/package/regionchat_*.deb 2>/dev/null | head -n1 || true)"
  if [ -z "$deb" ]; then
    "$root/packaging/deb.sh"
    deb="$(ls "$root"/build-deb/package/regionchat_*.deb | head -n1)"
  fi
fi
deb="$(readlink -f "$deb")"
"$root/packaging/install-deps.sh" deb
mkdir -p "$out"
start=$(date +%s)
step() { echo "install-test: [$(( $(date +%s) - start )) s] $*"; }
fail() { echo "install-test: FAILED: $*" >&2; exit 1; }

unmount_all() {
  for m in dev/pts dev sys proc; do
    if mountpoint -q "$rootfs/$m" 2>/dev/null; then umount -l "$rootfs/$m" || true; fi
  done
}
trap unmount_all EXIT
unmount_all
rm -rf "$work"
mkdir -p "$rootfs" "$(dirname "$cache")"

if [ ! -f "$cache" ]; then
  step "debootstrap bookworm (minbase) from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$out/debootstrap.log" 2>&1 ||
    fail "debootstrap (see $out/debootstrap.log)"
  tar -C "$rootfs" -czf "$cache.tmp" . && mv "$cache.tmp" "$cache"
else
  step "clean root from $cache"
  tar -C "$rootfs" -xzf "$cache"
fi
mount -t proc proc "$rootfs/proc"
mount -t sysfs sys "$rootfs/sys"
mount --bind /dev "$rootfs/dev"
mount --bind /dev/pts "$rootfs/dev/pts"
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
echo "deb $mirror bookworm main" > "$rootfs/etc/apt/sources.list"

env_base=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
in_root() { chroot "$rootfs" "${env_base[@]}" HOME=/root "$@"; }
as_user() {
  chroot --userspec="$user_ids" "$rootfs" "${env_base[@]}" HOME=/home/tester USER=tester "$@"
}
# Every path on the root's file system but the ones the system rewrites by itself.
snapshot() {
  in_root find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
    -o -path /var/log -o -path /var/cache -o -path /var/lib/apt -o -path /var/lib/dpkg \
    -o -path /var/tmp -o -path /root \) -prune -o -print | LC_ALL=C sort
}

step "apt-get update; the tools this test uses (not the package's dependencies)"
in_root apt-get update -q > "$out/apt.log" 2>&1 || fail "apt-get update (see $out/apt.log)"
in_root apt-get install -y -q --no-install-recommends xvfb xauth imagemagick \
  desktop-file-utils shared-mime-info libglib2.0-bin man-db >> "$out/apt.log" 2>&1 ||
  fail "installing the test tools (see $out/apt.log)"
in_root useradd -m -s /bin/bash tester
user_ids="$(in_root id -u tester):$(in_root id -g tester)"

step "apt-get install $(basename "$deb")"
cp "$deb" "$rootfs/tmp/"
in_root apt-get install -y -q "/tmp/$(basename "$deb")" >> "$out/apt.log" 2>&1 ||
  fail "installing the package (see $out/apt.log)"
rm "$rootfs/tmp/$(basename "$deb")"
in_root dpkg -L regionchat | LC_ALL=C sort > "$out/package-files.txt"
echo "install-test: the package installed $(wc -l < "$out/package-files.txt") paths," \
  "$(in_root dpkg-query -W -f='${Installed-Size}' regionchat) KiB"
for exe in /usr/bin/regionchat /usr/bin/regionchat-cli /usr/lib/regionchat/plugins/libregionchat_spm.so; do
  if in_root ldd "$exe" | grep -q "not found"; then
    in_root ldd "$exe" | grep "not found"
    fail "$exe has unresolved libraries"
  fi
done
before="$(mktemp)"
snapshot > "$before"

step "as a user: --version, man pages, regionchat-cli ask with the embedded model"
as_user regionchat-cli --version | tee "$out/version.txt"
as_user regionchat --version | tee -a "$out/version.txt"
version="$(dpkg-deb --field "$deb" Version)"
grep -q "regionchat-cli $version" "$out/version.txt" || fail "regionchat-cli --version is not $version"
grep -q "RegionChat $version" "$out/version.txt" || fail "regionchat --version is not $version"
for page in regionchat regionchat-cli; do
  as_user man -P cat "$page" > "$out/man-$page.txt" 2>&1 || fail "man $page"
  grep -q "SYNOPSIS" "$out/man-$page.txt" || fail "man $page has no SYNOPSIS"
done
as_user regionchat-cli ask --image "$sample" --box "$box" --question "$question" \
  > "$out/answer.txt" 2> "$out/ask.log" || { cat "$out/ask.log"; fail "regionchat-cli ask"; }
answer="$(tr -d '\n' < "$out/answer.txt")"
echo "install-test: Q: $question (box $box)  A: $answer"
grep -qi "circle" "$out/answer.txt" || fail "the embedded model did not name the red circle"

step "the session MIME type and its application"
as_user mkdir -p /home/tester/Pictures
as_user cp "$sample" /home/tester/Pictures/scene.png
sha="$(in_root sha256sum /home/tester/Pictures/scene.png | cut -d' ' -f1)"
size="$(in_root identify -format '%w %h' /home/tester/Pictures/scene.png)"
width="${size% *}" height="${size#* }"
escaped="$(printf '%s' "$answer" | sed 's/\\/\\\\/g; s/"/\\"/g')"
cat > "$rootfs/home/tester/Pictures/scene.regionchat" <<EOF
{
    "chat": [
        {"role": "user", "text": "What is in the region <region>?"},
        {"role": "assistant", "text": "$escaped"}
    ],
    "format": "regionchat-session",
    "image": {"height": $height, "path": "/home/tester/Pictures/scene.png",
              "sha256": "$sha", "width": $width},
    "regions": [{"box": [154, 175, 221, 242], "colour": "#ff922b", "id": 1, "kind": "box"}],
    "settings": {"dual_focus": false, "max_new_tokens": 64, "model_dir": ""},
    "version": 1
}
EOF
in_root chown tester:tester /home/tester/Pictures/scene.regionchat
type="$(as_user gio info -a standard::content-type /home/tester/Pictures/scene.regionchat |
        sed -n 's/.*standard::content-type: //p')"
echo "install-test: scene.regionchat is $type"
[ "$type" = "application/x-regionchat-session" ] || fail "the session's MIME type is '$type'"
as_user gio mime application/x-regionchat-session | tee "$out/mime-default.txt"
grep -q "Default application for .*: $id.desktop" "$out/mime-default.txt" ||
  fail "RegionChat does not open .regionchat files"
as_user gio mime image/png > "$out/mime-png.txt"
grep -q "$id.desktop" "$out/mime-png.txt" || fail "RegionChat is not offered for PNG images"
echo "install-test: offered for image/png (Open With)"

step "the GUI through its desktop entry under Xvfb"
as_user xvfb-run -a -s "-screen 0 1360x860x24" bash -c "
  gio launch /usr/share/applications/$id.desktop /home/tester/Pictures/scene.regionchat
  for i in \$(seq 60); do sleep 1; pgrep -x regionchat >/dev/null && break; done
  sleep 20
  import -window root /tmp/installed-app.png
  pkill -x regionchat; sleep 1" > "$out/gui.log" 2>&1 || true
[ -s "$rootfs/tmp/installed-app.png" ] || { cat "$out/gui.log"; fail "no screenshot of the GUI"; }
cp "$rootfs/tmp/installed-app.png" "$out/installed-app.png"
colours="$(in_root convert /tmp/installed-app.png -format '%k' info:)"
echo "install-test: screenshot $out/installed-app.png ($colours colours)"
[ "$colours" -gt 50 ] || fail "the screenshot is blank ($colours colours)"
in_root bash -c "cd /usr/share/icons/hicolor && montage -background '#f1f3f5' -geometry +12+12 \
  -gravity south \$(ls -d *x*/apps/$id.png | sort -t x -n) /tmp/icons.png" &&
  cp "$rootfs/tmp/icons.png" "$out/icons.png"
echo "install-test: the user's files after the runs:"
in_root find /home/tester -type f -not -path '*/Pictures/*' -not -name '.bash*' \
  -not -name '.profile' | sed 's/^/  /' | tee "$out/user-files.txt"
grep -q "/home/tester/.config/RegionChat/RegionChat.conf" "$out/user-files.txt" ||
  fail "the settings are not in ~/.config/RegionChat (XDG)"

step "apt-get purge regionchat"
in_root apt-get purge -y -q regionchat >> "$out/apt.log" 2>&1 || fail "purging the package"
after="$(mktemp)"
snapshot > "$after"
left=0
while read -r path; do
  if [ -e "$rootfs$path" ] && [ ! -d "$rootfs$path" ]; then echo "  left: $path"; left=1; fi
done < "$out/package-files.txt"
for dir in /usr/share/regionchat /usr/lib/regionchat /usr/share/doc/regionchat; do
  if [ -e "$rootfs$dir" ]; then echo "  left: $dir"; left=1; fi
done
named="$(in_root find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /home \) \
  -prune -o -iname '*regionchat*' -print)"
if [ -n "$named" ]; then echo "$named" | sed 's/^/  left: /'; left=1; fi
new="$(LC_ALL=C comm -13 "$before" "$after" | grep -v '^/home/tester' || true)"
if [ -n "$new" ]; then echo "$new" | sed 's/^/  new outside the home: /'; left=1; fi
gone="$(LC_ALL=C comm -23 "$before" "$after" | grep -vxF -f "$out/package-files.txt" || true)"
if [ -n "$gone" ]; then echo "$gone" | sed 's/^/  also removed: /'; fi
[ "$left" = 0 ] || fail "the purge left files behind"
in_root grep -rl "regionchat" /usr/share/applications /usr/share/mime 2>/dev/null &&
  fail "the desktop or MIME caches still name RegionChat"
echo "install-test: purge removed all $(wc -l < "$out/package-files.txt") paths; left only" \
  "the user data above"
step "ok"
