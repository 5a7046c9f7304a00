# Boots one lab host. Runs inside fresh namespaces (unshare --pid --fork --mount --uts --net --ipc).
# Arguments, never interpolated into other commands: $1 scratch dir, $2 host name, $3 staging dir.
set -eu
D="$1"; NAME="$2"; STAGE="$3"
# Everything the host writes lands in a tmpfs that vanishes with the mount namespace.
mount -t tmpfs -o mode=0755 lgtm-lab "$D"
mkdir "$D/upper" "$D/work" "$D/root"
# Files installed before boot (hostname, hosts, binaries) go into the upper layer.
cp -a "$STAGE/." "$D/upper/"
mount -t overlay overlay -o "lowerdir=/,upperdir=$D/upper,workdir=$D/work" "$D/root"
mount -t proc proc "$D/root/proc"
mount --rbind /sys "$D/root/sys"
mount --rbind /dev "$D/root/dev"
mount -t tmpfs -o mode=0755 tmpfs "$D/root/run"
mount -t tmpfs -o mode=1777 tmpfs "$D/root/tmp"
hostname "$NAME"
mkdir -p "$D/root/.lgtm-oldroot"
cd "$D/root"
pivot_root . .lgtm-oldroot
umount -l /.lgtm-oldroot
export container=lgtm-lab
# basic.target: start nothing the machine has installed; tests start what they need.
exec /lib/systemd/systemd --system --unit=basic.target
