// The parent's side of isolation: IsolationRequest -> IsolationPlan. Everything the child will
// read is made here, before the clone: the id map lines, every mount operation with its full
// path and flags, the ifreq for "lo", the init's argv. See isolation.h for the child's side.
#include "isolation_plan.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "init/init_protocol.h"
#include "isolation.h"
#include "isolation_sys.h"
#include "namespace_pool.h"

namespace confine {

namespace isolation {

bool HaveMountSetattr() {
  static const bool have = [] {
    // An invalid fd: EBADF where the call exists, ENOSYS where it does not.
    long r = syscall(SYS_mount_setattr, -1, "", 0, nullptr, 0);
    return !(r < 0 && errno == ENOSYS);
  }();
  return have;
}

}  // namespace isolation

namespace {

// The supervisor's mount namespace, by inode: the child checks that its own differs before it
// mounts anything.
uint64_t OwnMountNamespace() {
  static const uint64_t ino = [] {
    struct stat st;
    return stat("/proc/self/ns/mnt", &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
  }();
  return ino;
}

bool IsDirectory(const char* path) {
  struct stat st;
  return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

// Where the scratch tmpfs is mounted before the first pivot_root: any real directory will do
// (the sources are opened before it is covered, and the mount lives only in the child's
// namespace).
const char* ScratchDir() {
  static const char* dir = [] {
    for (const char* d : {"/tmp", "/mnt", "/var/tmp", "/opt", "/usr"}) {
      if (IsDirectory(d)) return d;
    }
    return static_cast<const char*>(nullptr);
  }();
  return dir;
}

// An absolute, normalized path: starts with '/', no empty, "." or ".." component, no trailing
// '/' (except "/" itself), no NUL (guaranteed by the caller). Anything else could make a target
// leave the new root.
bool IsCleanAbsolute(const std::string& p) {
  if (p.empty() || p[0] != '/') return false;
  if (p == "/") return true;
  if (p.back() == '/') return false;
  size_t i = 1;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string part = p.substr(i, j - i);
    if (part.empty() || part == "." || part == "..") return false;
    i = j + 1;
  }
  return true;
}

// A tmp's mount data as lib/isolation/tmp-size.ts makes it, and nothing else (no owner, no
// other option slips into the mount).
bool IsTmpData(const std::string& d) {
  static const std::string kMode = "mode=1777";
  if (d.empty() || d == kMode) return true;
  static const std::string kPrefix = kMode + ",size=";
  if (d.compare(0, kPrefix.size(), kPrefix) != 0 || d.size() == kPrefix.size() || d.size() > 40)
    return false;
  for (size_t i = kPrefix.size(); i < d.size(); i++) {
    if (d[i] < '0' || d[i] > '9') return false;
  }
  return true;
}

bool Within(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

// The fallback remount's flags for a bind (no mount_setattr): ours, plus every flag the source's
// mount already has, which the kernel may have locked (a user namespace cannot clear them).
unsigned long LockedFlagsOf(const std::string& source) {
  struct statvfs vfs;
  if (statvfs(source.c_str(), &vfs) != 0) return 0;
  unsigned long f = 0;
  if (vfs.f_flag & ST_RDONLY) f |= MS_RDONLY;
  if (vfs.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (vfs.f_flag & ST_NODEV) f |= MS_NODEV;
  if (vfs.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (vfs.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (vfs.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (vfs.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

}  // namespace

struct IsolationBuilder::Impl {
  std::deque<std::string> strings;  // stable addresses
  std::vector<const char*> sources;
  std::vector<int> sourceFds;
  std::vector<MountOp> ops;
  std::vector<MountOp> lateOps;  // symlinks: after every mount
  std::vector<char*> initArgv;
  std::vector<int> spareFds;  // taken from the pool: closed once the spawn is over
  char errFdText[16] = {0};
  char statusFdText[16] = {0};
  struct ifreq loopback;

  // What has been mounted so far, in view paths: a bind shows the host's content (nothing may
  // be created inside it), our own tmpfs/proc/dev are ours to make directories in.
  struct Mounted {
    std::string path;
    bool ours;
  };
  std::vector<Mounted> mounted;
  bool newRoot = false;
  std::string prefix;  // "/newroot" while the view is built (between the two pivots), else ""

  const char* Keep(std::string s) {
    strings.push_back(std::move(s));
    return strings.back().c_str();
  }
  // The path the child uses for a view path: under the new root's directory before pivot_root.
  const char* At(const std::string& viewPath) {
    if (!newRoot) return Keep(viewPath);
    return Keep(viewPath == "/" ? prefix : prefix + viewPath);
  }

  // True when path lies in a directory of ours (the new root's tmpfs or a tmpfs we mounted),
  // false when it lies inside a bind of the host (or, in place, anywhere on the host).
  bool Ours(const std::string& path) const {
    const Mounted* best = nullptr;
    for (const auto& m : mounted) {
      if (Within(path, m.path) && (!best || m.path.size() > best->path.size())) best = &m;
    }
    if (best) return best->ours;
    return false;  // in place: the host's own directories
  }

  void Op(MountOpKind kind, const std::string& target, unsigned long flags = 0,
          const char* data = nullptr) {
    MountOp op;
    op.kind = kind;
    op.target = At(target);
    op.flags = flags;
    op.data = data;
    ops.push_back(op);
  }

  // The directories leading to target (and target itself as a directory, or an empty file when
  // asFile), wherever they lie in a directory of ours. Inside a bind they must already exist.
  void MakePath(const std::string& target, bool asFile) {
    if (!newRoot || target == "/") return;
    for (size_t i = 1; i <= target.size(); i++) {
      if (i != target.size() && target[i] != '/') continue;
      std::string part = target.substr(0, i);
      if (!Ours(part)) continue;
      bool last = i == target.size();
      Op(last && asFile ? MountOpKind::kCreateFile : MountOpKind::kMkdir, part);
    }
  }

  int Source(const std::string& path) {
    sources.push_back(Keep(path));
    return static_cast<int>(sources.size() - 1);
  }

  void Bind(const std::string& source, const std::string& target, bool readOnly) {
    struct stat st;
    bool isDir = stat(source.c_str(), &st) != 0 || S_ISDIR(st.st_mode);
    MakePath(target, !isDir);
    MountOp bind;
    bind.kind = MountOpKind::kBindSource;
    bind.target = At(target);
    bind.sourceIndex = Source(source);
    bind.flags = MS_REC;
    ops.push_back(bind);
    MountOp attr;
    attr.kind = MountOpKind::kSetattr;
    attr.target = bind.target;
    attr.attrSet =
        sys::kMountAttrNosuid | sys::kMountAttrNodev | (readOnly ? sys::kMountAttrRdonly : 0);
    attr.flags = MS_NOSUID | MS_NODEV | (readOnly ? MS_RDONLY : 0);
    if (!isolation::HaveMountSetattr()) attr.flags |= LockedFlagsOf(source);
    ops.push_back(attr);
    mounted.push_back({target, false});
  }

  void Tmpfs(const std::string& target, unsigned long flags, const char* options) {
    MakePath(target, false);
    Op(MountOpKind::kTmpfs, target, flags, options);
    mounted.push_back({target, true});
  }

  // A fresh procfs of the child's pid namespace. For a child that keeps root's capabilities, the
  // files that reach beyond the namespace (kernel settings, sysrq, interrupts, buses) are bound
  // read-only over themselves, as bubblewrap and runc do; any other child cannot write them
  // (root's 0644/0200 files, no capability outside its namespaces), and is spared these mounts.
  // Which of them exist is the fresh procfs's own answer, found by the child (the kernel's build
  // config decides: /proc/sys needs CONFIG_SYSCTL, sysrq-trigger CONFIG_MAGIC_SYSRQ), never the
  // supervisor's /proc, which may hide them (subset=pid) while the child's shows them.
  void Proc(const std::string& target, bool readOnlyKernelFiles) {
    MakePath(target, false);
    Op(MountOpKind::kProc, target, MS_NOSUID | MS_NODEV | MS_NOEXEC);
    mounted.push_back({target, true});
    if (!readOnlyKernelFiles) return;
    for (const char* entry : {"sys", "sysrq-trigger", "irq", "bus"}) {
      MountOp op;
      op.kind = MountOpKind::kProcEntryReadOnly;
      op.target = At(target + "/" + entry);
      op.attrSet = sys::kMountAttrRdonly | sys::kMountAttrNosuid | sys::kMountAttrNodev |
                   sys::kMountAttrNoexec;
      op.flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
      ops.push_back(op);
    }
  }

  // A minimal /dev: a read-only tmpfs holding the host's harmless character devices (bound,
  // since a user namespace cannot mknod), a private shm and the fd links.
  void Dev(const std::string& target) {
    Tmpfs(target, MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755");
    for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
      std::string host = std::string("/dev/") + node;
      struct stat st;
      if (stat(host.c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) continue;
      std::string at = target + "/" + node;
      Op(MountOpKind::kCreateFile, at);
      MountOp bind;
      bind.kind = MountOpKind::kBindSource;
      bind.target = At(at);
      bind.sourceIndex = Source(host);
      ops.push_back(bind);
    }
    Op(MountOpKind::kMkdir, target + "/shm");
    Op(MountOpKind::kTmpfs, target + "/shm", MS_NOSUID | MS_NODEV, "mode=1777");
    mounted.push_back({target + "/shm", true});
    static const char* const kLinks[][2] = {{"fd", "/proc/self/fd"},
                                            {"stdin", "/proc/self/fd/0"},
                                            {"stdout", "/proc/self/fd/1"},
                                            {"stderr", "/proc/self/fd/2"}};
    for (const auto& l : kLinks) Op(MountOpKind::kSymlink, target + "/" + l[0], 0, l[1]);
    Op(MountOpKind::kRemount, target, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  }

  void Symlink(const std::string& target, const std::string& linkTo) {
    if (!newRoot || !Ours(target)) return;  // inside a bind: the host's own link is there
    // Its directory first (ordinary ops), the link itself once every mount is in place.
    size_t slash = target.rfind('/');
    if (slash > 0) MakePath(target.substr(0, slash), false);
    MountOp op;
    op.kind = MountOpKind::kSymlink;
    op.target = At(target);
    op.data = Keep(linkTo);
    lateOps.push_back(op);
  }
};

IsolationBuilder::IsolationBuilder() : impl_(new Impl) {}
IsolationBuilder::~IsolationBuilder() {
  for (int fd : impl_->spareFds) close(fd);
  delete impl_;
}

int IsolationBuilder::Build(const IsolationRequest& req, const std::string& file,
                            const std::vector<std::string>& argv, IsolationPlan* plan,
                            const char** what) {
  Impl& b = *impl_;
  *plan = IsolationPlan();

  // Spares from the pool where asked (a root supervisor): made off the spawn path.
  int netnsFd = req.net ? req.netnsFd : -1, ipcnsFd = -1;
  bool loopbackDone = false;
  if (req.spares && req.net && netnsFd < 0) {
    netnsFd = nspool::Take(req.loopback ? nspool::Kind::kNetLoopback : nspool::Kind::kNet);
    if (netnsFd >= 0) {
      b.spareFds.push_back(netnsFd);
      loopbackDone = req.loopback;
    }
  }
  if (req.spares && req.ipc) {
    ipcnsFd = nspool::Take(nspool::Kind::kIpc);
    if (ipcnsFd >= 0) b.spareFds.push_back(ipcnsFd);
  }

  if (req.user) plan->cloneFlags |= CLONE_NEWUSER;
  if (req.mount || !req.mounts.empty()) plan->cloneFlags |= CLONE_NEWNS;
  if (req.pid) plan->cloneFlags |= CLONE_NEWPID;
  if (req.net && netnsFd < 0) plan->cloneFlags |= CLONE_NEWNET;
  if (req.ipc && ipcnsFd < 0) plan->cloneFlags |= CLONE_NEWIPC;
  if (req.uts || req.hasHostname) plan->cloneFlags |= CLONE_NEWUTS;

  // 5a. The child maps its own ids: the program sees the supervisor's uid and gid, everything
  //     else as the overflow ids (nobody/nogroup).
  if (req.user) {
    plan->mapIds = true;
    std::string uid = std::to_string(geteuid()), gid = std::to_string(getegid());
    plan->uidMap = b.Keep(uid + " " + uid + " 1\n");
    plan->uidMapLen = strlen(plan->uidMap);
    plan->gidMap = b.Keep(gid + " " + gid + " 1\n");
    plan->gidMapLen = strlen(plan->gidMap);
  }

  plan->netnsFd = netnsFd;
  plan->ipcnsFd = ipcnsFd;

  // 5c. The view.
  if (!req.mounts.empty()) {
    b.newRoot = req.newRoot;
    const char* scratch = nullptr;
    if (b.newRoot) {
      scratch = ScratchDir();
      if (scratch == nullptr) {
        *what = "no directory to build the new root on (/tmp, /mnt, /var/tmp, /opt, /usr)";
        return ENOENT;
      }
      b.prefix = "/newroot";
      // The view's own root: a tmpfs, unless the first mount binds something at "/".
      const MountRequest& first = req.mounts.front();
      if (!(first.kind == MountRequest::Kind::kBind && first.target == "/")) {
        b.Op(MountOpKind::kTmpfs, "/", MS_NOSUID | MS_NODEV, "mode=0755");
        b.mounted.push_back({"/", true});
      }
    }
    plan->parentMntNs = OwnMountNamespace();
    if (plan->parentMntNs == 0) {
      *what = "cannot read /proc/self/ns/mnt";
      return ENOENT;
    }
    for (const MountRequest& m : req.mounts) {
      if (!IsCleanAbsolute(m.target) ||
          (m.kind == MountRequest::Kind::kBind && !IsCleanAbsolute(m.source))) {
        *what = "mount paths must be absolute and normalized";
        return EINVAL;
      }
      switch (m.kind) {
        case MountRequest::Kind::kBind: b.Bind(m.source, m.target, m.readOnly); break;
        case MountRequest::Kind::kTmpfs:
          if (!IsTmpData(m.data)) {
            *what = "tmpfs data must be mode=1777 or mode=1777,size=<bytes>";
            return EINVAL;
          }
          b.Tmpfs(m.target, MS_NOSUID | MS_NODEV, m.data.empty() ? "mode=1777" : b.Keep(m.data));
          break;
        case MountRequest::Kind::kProc: b.Proc(m.target, m.readOnlyKernelFiles); break;
        case MountRequest::Kind::kDev: b.Dev(m.target); break;
        case MountRequest::Kind::kSymlink: b.Symlink(m.target, m.linkTo); break;
      }
    }
    b.ops.insert(b.ops.end(), b.lateOps.begin(), b.lateOps.end());
    b.sourceFds.assign(b.sources.size(), -1);
    plan->mounts = true;
    plan->sources = b.sources.data();
    plan->sourceCount = b.sources.size();
    plan->sourceFds = b.sourceFds.data();
    plan->newRoot = b.newRoot;
    if (b.newRoot) {
      plan->scratchDir = b.Keep(scratch);
      plan->scratchOldRoot = b.Keep(std::string(scratch) + "/oldroot");
      plan->scratchNewRoot = b.Keep(std::string(scratch) + "/newroot");
    }
    plan->ops = b.ops.data();
    plan->opCount = b.ops.size();
  }

  // 5d.
  if (req.hasHostname) {
    plan->hostname = b.Keep(req.hostname);
    plan->hostnameLen = req.hostname.size();
  }

  // 5e.
  if (req.loopback && !loopbackDone) {
    memset(&b.loopback, 0, sizeof b.loopback);
    strncpy(b.loopback.ifr_name, "lo", IFNAMSIZ - 1);
    b.loopback.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
    plan->loopbackIfreq = &b.loopback;
  }

  // The init: [name, error fd, status fd, file, argv...]; the child writes the two numbers.
  if (req.pid) {
    if (req.initFd < 0 || req.statusFd < 0) {
      *what = "a private pid namespace needs the init (initFd) and its status pipe (statusFd)";
      return EINVAL;
    }
    plan->initFd = req.initFd;
    plan->statusFd = req.statusFd;
    b.initArgv.push_back(const_cast<char*>(kInitName));
    b.initArgv.push_back(b.errFdText);
    b.initArgv.push_back(b.statusFdText);
    b.initArgv.push_back(const_cast<char*>(b.Keep(file)));
    for (const auto& a : argv) b.initArgv.push_back(const_cast<char*>(b.Keep(a)));
    b.initArgv.push_back(nullptr);
    plan->initArgv = b.initArgv.data();
    plan->errFdText = b.errFdText;
    plan->statusFdText = b.statusFdText;
  }
  return 0;
}

}  // namespace confine
