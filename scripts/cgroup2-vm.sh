#!/usr/bin/env bash
# cgroup2-vm.sh - run one command as root inside a throwaway QEMU virtual machine whose only
# cgroup hierarchy is cgroup v2, with every controller enabled at the root. This is how
# confine tests its pure-v2 code paths on hosts that mount cgroup v1 (or nothing usable).
#
#   scripts/cgroup2-vm.sh [options] -- COMMAND [ARG]...
#
#   --mem SIZE       guest memory (default 2G)
#   --cpus N         guest CPUs (default 2)
#   --share DIR      also share DIR read-write (repeatable); the current directory always is
#   --cgroup /A/B    run COMMAND in the leaf cgroup /A/B, controllers delegated down to it
#                    (like a systemd Delegate=yes unit), instead of the root cgroup
#   --timeout SEC    kill the VM after SEC seconds (default 1800); exit status 124
#   -v               show timings and the guest console
#
# What the guest sees: the host's / read-only (virtiofs) under a RAM overlay, so node and the
# repo's node_modules are the host's; the current directory (and --share dirs) read-write, so
# build outputs come back. cgroup2 is mounted at /sys/fs/cgroup with nsdelegate and
# memory_recursiveprot, the kernel booted with cgroup_no_v1=all. COMMAND gets the caller's
# exported environment, stdin from /dev/null; its stdout and stderr stream back separately.
#
# Exit status: COMMAND's; 125 when the VM itself failed; 124 on --timeout.
#
# Needs root (virtiofsd) and Debian's apt: the first run installs qemu-system-x86 and fetches
# the Debian cloud kernel (linux-image-cloud-amd64) and busybox-static with `apt-get download`
# into the cache, ~/.cache/confine-vm (CONFINE_VM_CACHE overrides it). Nothing is downloaded
# from anywhere else. CONFINE_VM_ACCEL=kvm uses KVM where it can run a stock kernel (the
# default is TCG software emulation: some hosts' /dev/kvm is paravirtual and cannot).
set -euo pipefail

me=cgroup2-vm
mem=2G cpus=2 leaf=/ timeout=1800 verbose=0
shares=()
die() { echo "$me: $*" >&2; exit 125; }
say() { [ "$verbose" = 0 ] || echo "$me: +$(( ($(date +%s%N) - t0) / 1000000 ))ms $*" >&2; }
t0=$(date +%s%N)

while [ $# -gt 0 ]; do
  case $1 in
    --mem) mem=${2:?}; shift 2 ;;
    --cpus) cpus=${2:?}; shift 2 ;;
    --share) shares+=("${2:?}"); shift 2 ;;
    --cgroup) leaf=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    -v) verbose=1; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ $# -gt 0 ] || die "no command given (see --help)"
[[ $mem =~ ^[0-9]+[MG]$ ]] || die "--mem: use e.g. 1536M or 2G"
[[ $cpus =~ ^[1-9][0-9]?$ ]] || die "--cpus: a number"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout: seconds"
[[ $leaf == /* && $leaf != *..* && $leaf =~ ^[A-Za-z0-9_./@:-]+$ ]] || die "--cgroup: an absolute cgroup path"
[ "$(id -u)" = 0 ] || die "must run as root"

cache=${CONFINE_VM_CACHE:-$HOME/.cache/confine-vm}
mkdir -p "$cache"

# ------------------------------------------------------------------ host tools (apt only)
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  say "apt-get install $*"
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq --no-install-recommends "$@" >&2; } ||
    die "apt-get install $* failed"
}
find_virtiofsd() {
  for f in /usr/libexec/virtiofsd /usr/lib/qemu/virtiofsd; do [ -x "$f" ] && { echo "$f"; return; }; done
}
command -v qemu-system-x86_64 >/dev/null || apt_install qemu-system-x86
vfsd=$(find_virtiofsd)
if [ -z "$vfsd" ]; then apt_install virtiofsd; vfsd=$(find_virtiofsd); fi
[ -n "$vfsd" ] || die "no virtiofsd (Debian 12: qemu-system-common; later: the virtiofsd package)"

# ------------------------------------------------------------------ kernel + initramfs (cached)
# The initramfs holds a static busybox, the few modules the cloud kernel has as modules, and
# the init script below. Rebuilt when this script's init changes.
read -r -d '' guest_init <<'INIT' || true
#!/bin/busybox sh
# confine cgroup2-vm guest init (PID 1)
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
status=""
bail() { echo "cgroup2-vm(init): $*" >/dev/console; [ -n "$status" ] && echo 125 >"$status"; sync; poweroff -f; }
for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m.ko" || bail "insmod $m"; done
# virtio-serial ports appear asynchronously; give them stable names
n=0
until [ -e /dev/vp-out ] && [ -e /dev/vp-err ] && [ -e /dev/vp-status ]; do
  for p in /sys/class/virtio-ports/*; do
    [ -r "$p/name" ] || continue
    nm=$(cat "$p/name"); [ -n "$nm" ] && ln -sf "/dev/${p##*/}" "/dev/vp-$nm"
  done
  n=$((n + 1)); [ $n -lt 2000 ] || bail "virtio ports missing"; usleep 5000
done
status=/dev/vp-status
mkdir -p /host /ro /rw /root
mount -t virtiofs host /host || bail "virtiofs"
mount --bind /host /ro && mount -o remount,bind,ro /ro || bail "read-only bind"
mount -t tmpfs -o mode=755 rw /rw && mkdir -p /rw/up /rw/work
# The account files, the guest's own from the start: useradd in the guest must not see the host's
# useradd/userdel replacing them (seen as "useradd: cannot open /etc/passwd"). Copied into the
# upper layer before the overlay exists, retried while the host is between two versions.
mkdir -p /rw/up/etc && chmod 755 /rw/up/etc
for f in passwd group shadow gshadow subuid subgid; do
  n=0
  while [ $n -lt 100 ]; do
    if [ -s /ro/etc/$f ]; then cp -p /ro/etc/$f /rw/up/etc/$f.new && [ -s /rw/up/etc/$f.new ] && mv /rw/up/etc/$f.new /rw/up/etc/$f && break; fi
    [ -e /ro/etc/$f- ] || [ $n -lt 20 ] || break  # a file this host does not have
    n=$((n + 1)); usleep 20000
  done
  rm -f /rw/up/etc/$f.new
done
mount -t overlay -o lowerdir=/ro,upperdir=/rw/up,workdir=/rw/work root /root || bail "overlay"
N=/root
mount -t proc proc $N/proc; mount -t sysfs sys $N/sys; mount -t devtmpfs dev $N/dev
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 $N/sys/fs/cgroup || bail "cgroup2"
mkdir -p $N/dev/pts $N/dev/shm
mount -t devpts -o ptmxmode=666,mode=620,gid=5 devpts $N/dev/pts
mount -t tmpfs -o mode=1777 shm $N/dev/shm
mount -t tmpfs -o mode=755 run $N/run
mount -t tmpfs -o mode=1777 tmp $N/tmp
while read -r d; do
  [ -n "$d" ] && { mkdir -p "$N$d"; mount --bind "/host$d" "$N$d" || bail "share $d"; }
done </cfg/shares
cg=$N/sys/fs/cgroup
for c in $(cat $cg/cgroup.controllers); do echo "+$c" >$cg/cgroup.subtree_control || bail "enable $c"; done
leaf=$(cat /cfg/leaf); d=$cg
for comp in $(echo "$leaf" | tr / ' '); do
  # the level above gets the controllers first; the leaf itself keeps none (it holds processes)
  [ "$d" = "$cg" ] || for c in $(cat $d/cgroup.controllers); do echo "+$c" >$d/cgroup.subtree_control; done
  d=$d/$comp; mkdir -p "$d" || bail "mkdir $d"
done
mkdir -p $N/run/cgroup2-vm && cp /cfg/run.sh $N/run/cgroup2-vm/run.sh
hostname cgroup2-vm
ip link set lo up 2>/dev/null
# The command's root is the overlay moved onto "/" (as switch_root does), not a chroot into it:
# a chrooted process may not create user namespaces (EPERM), and confine's isolation tests make
# them as a supervisor that is not root. This init keeps the initramfs as its own root.
sh -c "echo \$\$ >$d/cgroup.procs && cd $N && mount --move . / && exec chroot . /bin/sh /run/cgroup2-vm/run.sh" </dev/null >/dev/vp-out 2>/dev/vp-err &
wait $!
echo $? >$status
sync
poweroff -f
INIT

pick_kernel_pkg() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1
}
deb_extract() { # package dir: apt-get download + dpkg-deb -x (no install, no hooks)
  local dl; dl=$(mktemp -d "$cache/dl.XXXXXX"); chmod 755 "$dl"; chown _apt "$dl" 2>/dev/null || true
  if ! (cd "$dl" && apt-get download -qq "$1" >/dev/null 2>&1); then
    apt-get update -qq >/dev/null 2>&1 || true
    (cd "$dl" && apt-get download -qq "$1" >&2) || { rm -rf "$dl"; die "apt-get download $1 failed"; }
  fi
  dpkg-deb -x "$dl"/*.deb "$2"
  rm -rf "$dl"
}

exec 8>"$cache/lock"
flock 8
# apt-cache takes ~1 s: resolve the kernel package once, then reuse it (CONFINE_VM_REFRESH=1
# picks up a newer one).
if [ -z "${CONFINE_VM_REFRESH:-}" ] && [ -e "$cache/current/ready" ]; then
  kpkg=$(basename "$(readlink "$cache/current")")
else
  kpkg=$(pick_kernel_pkg)
  if [ -z "$kpkg" ]; then apt-get update -qq >/dev/null 2>&1 || true; kpkg=$(pick_kernel_pkg); fi
  [ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64 to a kernel package"
fi
kd=$cache/$kpkg
# The modules the cloud kernel does not build in that the guest loads, dependencies added; loop
# gives the IO tests block devices (the guest has no disk: its / is virtiofs).
modules="virtio_pci virtio_console virtiofs overlay loop"
add_module() { # needs moddir, loaded, order
  local name=$1 ko deps d
  case $loaded in *" $name "*) return ;; esac
  loaded="$loaded$name "
  grep -Eq "/${name//_/[-_]}\.ko" "$moddir/modules.builtin" && return
  ko=$(find "$moddir/kernel" -regextype egrep -regex ".*/${name//_/[-_]}\.ko(\.xz|\.zst)?" | head -n1)
  [ -n "$ko" ] || die "kernel module $name not in $kpkg"
  case $ko in
    *.xz) xz -dc "$ko" ;;
    *.zst) zstd -qdc "$ko" ;;
    *) cat "$ko" ;;
  esac >"$kd/initrd/lib/modules/$name.ko"
  deps=$(tr '\0' '\n' <"$kd/initrd/lib/modules/$name.ko" | sed -n 's/^depends=//p' | head -n1)
  for d in ${deps//,/ }; do add_module "${d//-/_}"; done
  order="$order $name"
}
if [ ! -e "$kd/ready" ]; then
  say "fetching $kpkg and busybox-static"
  rm -rf "$kd"; mkdir -p "$kd/pkg" "$kd/initrd/bin" "$kd/initrd/lib/modules" "$kd/initrd/cfg"
  for d in dev proc sys; do mkdir -p "$kd/initrd/$d"; done
  deb_extract "$kpkg" "$kd/pkg"
  deb_extract busybox-static "$kd/pkg"
  kver=$(ls "$kd/pkg/lib/modules" | head -n1)
  cp "$kd/pkg/boot/vmlinuz-$kver" "$kd/vmlinuz"
  bb=$kd/initrd/bin/busybox
  cp "$kd/pkg/bin/busybox" "$bb"
  for a in $("$bb" --list); do [ "$a" = busybox ] || ln -s busybox "$kd/initrd/bin/$a"; done
  moddir=$kd/pkg/lib/modules/$kver
  loaded=" " order=""
  for m in $modules; do add_module "$m"; done
  echo "$order" >"$kd/initrd/lib/modules/order"
  echo "$modules" >"$kd/modules"
  rm -rf "$kd/pkg"
  touch "$kd/ready"
elif [ "$(cat "$kd/modules" 2>/dev/null)" != "$modules" ]; then
  # A cache made for fewer modules: add the missing ones. Nothing in use is removed (a VM of
  # another run may be booting from this kernel and an earlier initramfs right now).
  say "adding modules to the cached $kpkg"
  rm -rf "$kd/pkg.add"; mkdir -p "$kd/pkg.add"
  deb_extract "$kpkg" "$kd/pkg.add"
  kver=$(ls "$kd/pkg.add/lib/modules" | head -n1)
  moddir=$kd/pkg.add/lib/modules/$kver
  order=$(cat "$kd/initrd/lib/modules/order")
  loaded=" $order "
  for m in $modules; do add_module "$m"; done
  echo "$order" >"$kd/initrd/lib/modules/order.new" && mv "$kd/initrd/lib/modules/order.new" "$kd/initrd/lib/modules/order"
  echo "$modules" >"$kd/modules"
  rm -rf "$kd/pkg.add"
fi
ln -sfn "$kpkg" "$cache/current"
bb=$kd/initrd/bin/busybox
initrd_base=$kd/initrd-$( (printf '%s' "$guest_init"; cat "$kd/initrd/lib/modules/order") | md5sum | cut -c1-10).cpio
if [ ! -e "$initrd_base" ]; then
  printf '%s\n' "$guest_init" >"$kd/initrd/init"; chmod 755 "$kd/initrd/init"
  (cd "$kd/initrd" && find . | "$bb" cpio -o -H newc 2>/dev/null) >"$initrd_base.tmp"
  mv "$initrd_base.tmp" "$initrd_base"
fi
flock -u 8
say "kernel $kpkg ready"

# ------------------------------------------------------------------ per-run config
work=$(mktemp -d /tmp/confine-vm.XXXXXX)
vfsd_pid="" qemu_pid="" cat_out="" cat_err=""
finish() {
  [ -z "$cat_out" ] || kill "$cat_out" 2>/dev/null || true
  [ -z "$cat_err" ] || kill "$cat_err" 2>/dev/null || true
  [ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true
  [ -z "$vfsd_pid" ] || kill "$vfsd_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$work/cfg/cfg"
here=$(pwd -P)
for d in "$here" "${shares[@]}"; do
  r=$(realpath -e -- "$d") || die "no such directory: $d"
  [ -d "$r" ] && [ "$r" != / ] || die "cannot share $d"
  echo "$r"
done | sort -u | awk '{ print length($0), $0 }' | sort -n | cut -d' ' -f2- >"$work/cfg/cfg/shares"
echo "$leaf" >"$work/cfg/cfg/leaf"
{
  echo 'set -e'
  while IFS= read -r v; do
    case $v in PWD|OLDPWD|SHLVL|_|BASH_*|SSH_*|DISPLAY|XDG_RUNTIME_DIR|DBUS_SESSION_BUS_ADDRESS) continue ;; esac
    printf 'export %s=%q\n' "$v" "${!v}"
  done < <(compgen -e)
  printf 'export CONFINE_IN_VM=cgroup2\n'
  printf 'cd %q\n' "$here"
  printf 'set +e\nexec'; printf ' %q' "$@"; printf '\n'
} >"$work/cfg/cfg/run.sh"
(cd "$work/cfg" && find cfg | "$bb" cpio -o -H newc 2>/dev/null) >"$work/cfg.cpio"
cat "$initrd_base" "$work/cfg.cpio" >"$work/initrd"
: >"$work/status"

# ------------------------------------------------------------------ virtiofsd + qemu
case $vfsd in
  */libexec/virtiofsd) "$vfsd" --socket-path="$work/fs.sock" --shared-dir=/ --sandbox=chroot --cache=auto >"$work/virtiofsd.log" 2>&1 & ;;
  *) "$vfsd" --socket-path="$work/fs.sock" -o source=/ -o sandbox=chroot -o cache=auto -o no_posix_lock >"$work/virtiofsd.log" 2>&1 & ;;
esac
vfsd_pid=$!
for _ in $(seq 300); do [ -S "$work/fs.sock" ] && break; sleep 0.01; done
[ -S "$work/fs.sock" ] || { cat "$work/virtiofsd.log" >&2; die "virtiofsd did not start"; }

if [ "${CONFINE_VM_ACCEL:-tcg}" = kvm ]; then accel=(-accel kvm -cpu host)
else accel=(-accel tcg,thread=multi -cpu max,-erms,-fsrm)  # rep movsb is slow under TCG
fi
say "booting"
# The guest's stdout/stderr ports write into fifos that cat copies to our stdout and stderr
# (so the streams stay separate and keep their order with our own messages); qemu's own
# messages go to a log.
mkfifo "$work/out" "$work/err"
cat "$work/out" & cat_out=$!
cat "$work/err" >&2 & cat_err=$!
timeout "$timeout" qemu-system-x86_64 -name confine-cgroup2-vm -nodefaults -no-user-config -display none -no-reboot \
  "${accel[@]}" -smp "$cpus" -m "$mem" \
  -object memory-backend-memfd,id=ram,size="$mem",share=on -machine q35,memory-backend=ram \
  -kernel "$kd/vmlinuz" -initrd "$work/initrd" \
  -append "console=ttyS0 quiet panic=-1 rdinit=/init cgroup_no_v1=all mitigations=off cryptomgr.notests" \
  -serial file:"$work/console.log" \
  -chardev socket,id=fs,path="$work/fs.sock" -device vhost-user-fs-pci,chardev=fs,tag=host,queue-size=1024 \
  -device virtio-serial-pci,id=vser \
  -chardev file,id=out,path="$work/out" -device virtserialport,bus=vser.0,chardev=out,name=out \
  -chardev file,id=err,path="$work/err" -device virtserialport,bus=vser.0,chardev=err,name=err \
  -chardev file,id=st,path="$work/status" -device virtserialport,bus=vser.0,chardev=st,name=status \
  </dev/null >"$work/qemu.log" 2>&1 &
qemu_pid=$!
qrc=0; wait "$qemu_pid" || qrc=$?
qemu_pid=""
# the cats see EOF once qemu has closed the fifos; if qemu never opened them, end them
for _ in $(seq 200); do kill -0 "$cat_out" 2>/dev/null || kill -0 "$cat_err" 2>/dev/null || break; sleep 0.01; done
kill "$cat_out" "$cat_err" 2>/dev/null || true
cat_out="" cat_err=""
[ "$qrc" != 124 ] || { echo "$me: timeout after ${timeout}s" >&2; exit 124; }
say "vm done (qemu status $qrc)"
[ "$verbose" = 0 ] || { echo "$me: guest console:" >&2; cat "$work/console.log" >&2; }
rc=$(tr -dc 0-9 <"$work/status" | head -c 3)
if [ -z "$rc" ]; then
  echo "$me: the VM reported no status (qemu exit $qrc)" >&2
  tail -n 20 "$work/qemu.log" >&2 || true
  tail -n 30 "$work/console.log" >&2 || true
  exit 125
fi
exit "$rc"
