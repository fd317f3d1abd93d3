// The kernel's own cost of the guards, without confine: vfork + execve of /bin/true from C, plain
// and with one guard installed by the child before execve (no_new_privs in every variant):
//   seccomp-2      a filter of 2 instructions (load, allow): the fixed cost of any filter
//   seccomp-163    163 instructions (the size of confine's default filter) as a chain of
//                  comparisons that never match: what a linear filter's length adds
//   seccomp-tree   163 instructions as a binary search over 81 number ranges, the shape of
//                  confine's filter (native/linux/seccomp.cc)
//   landlock       landlock_restrict_self with a ruleset of 4 rules built once (confine's cached
//                  path)
//   landlock-copy  a ruleset made per spawn in the parent: create + 4 rules from O_PATH fds kept
//                  open, restrict in the child (confine's per-tree path)
//   landlock-paths the child makes it all from paths: create, open(O_PATH) + add + close per
//                  rule, restrict (the design confine did not take: native/linux/landlock.cc)
// Variants take turns, one spawn each per round, in a shuffled order. Prints the median per
// variant: until vfork returns (the child has exec'd) and until the child is reaped.
//
//   cc -O2 -o /tmp/guards_floor bench/guards_floor.c && /tmp/guards_floor [rounds]
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { PLAIN, SECCOMP_2, SECCOMP_163, SECCOMP_TREE, LANDLOCK, LANDLOCK_COPY, LANDLOCK_PATHS, VARIANTS };
static const char *names[] = {"plain",    "seccomp-2",     "seccomp-163",   "seccomp-tree",
                              "landlock", "landlock-copy", "landlock-paths"};
static const char *paths[4] = {"/usr", "/etc", "/dev/null", "/tmp"};

static struct sock_fprog small, large, tree;
static struct sock_filter treeCode[200];
static int treeLen;

// ranges [lo, hi) of 81 (start = 2 * i): one jge per split, one ret per range, like confine's.
static void emitTree(int lo, int hi) {
  if (hi - lo == 1) {
    treeCode[treeLen++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, lo % 2 ? SECCOMP_RET_ERRNO | 1 : SECCOMP_RET_ALLOW);
    return;
  }
  int mid = (lo + hi) / 2, at = treeLen++;
  emitTree(lo, mid);
  treeCode[at] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 1000 + 2 * mid, treeLen - at - 1, 0);
  emitTree(mid, hi);
}
static int ruleset = -1, pathFds[4];
static const uint64_t kRead = 1 | 4 | 8, kAll = 0xffff;
static const struct {
  uint64_t fs, net, scoped;
} attr = {0xffff, 0, 0};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void add(int rs, int fd, uint64_t access) {
  struct __attribute__((packed)) {
    uint64_t access;
    int32_t fd;
  } rule = {access, fd};
  syscall(SYS_landlock_add_rule, rs, 1, &rule, 0);
}

static int build(void) {
  int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
  for (int i = 0; i < 4; i++) add(rs, pathFds[i], i == 2 ? 7 : i == 3 ? kAll : kRead);
  return rs;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 2000;
  static struct sock_filter s[2], l[163];
  s[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  s[1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  l[0] = s[0];
  for (int i = 1; i < 162; i++) l[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 100000 + i, 0, 0);
  l[162] = s[1];
  small = (struct sock_fprog){2, s};
  large = (struct sock_fprog){163, l};
  treeCode[treeLen++] = s[0];
  emitTree(0, 81);
  tree = (struct sock_fprog){(unsigned short)treeLen, treeCode};
  for (int i = 0; i < 4; i++) pathFds[i] = open(paths[i], O_PATH | O_CLOEXEC);
  ruleset = build();
  int landlock = ruleset >= 0;

  double *spawn[VARIANTS], *total[VARIANTS];
  for (int v = 0; v < VARIANTS; v++) {
    spawn[v] = calloc(rounds, sizeof(double));
    total[v] = calloc(rounds, sizeof(double));
  }
  char *argvTrue[] = {"true", NULL}, *envp[] = {NULL};
  for (int r = 0; r < rounds; r++) {
    int order[VARIANTS];
    for (int v = 0; v < VARIANTS; v++) order[v] = v;
    for (int v = VARIANTS - 1; v > 0; v--) {
      int j = rand() % (v + 1), t = order[v];
      order[v] = order[j];
      order[j] = t;
    }
    for (int k = 0; k < VARIANTS; k++) {
      int v = order[k];
      if (!landlock && v >= LANDLOCK) continue;
      double t0 = now();
      int own = v == LANDLOCK_COPY ? build() : -1;
      pid_t pid = vfork();
      if (pid == 0) {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (v == SECCOMP_2) syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &small);
        if (v == SECCOMP_163) syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &large);
        if (v == SECCOMP_TREE) syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &tree);
        if (v == LANDLOCK) syscall(SYS_landlock_restrict_self, ruleset, 0);
        if (v == LANDLOCK_COPY) syscall(SYS_landlock_restrict_self, own, 0);
        if (v == LANDLOCK_PATHS) {
          int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
          for (int i = 0; i < 4; i++) {
            int fd = open(paths[i], O_PATH | O_CLOEXEC);
            add(rs, fd, i == 2 ? 7 : i == 3 ? kAll : kRead);
            close(fd);
          }
          syscall(SYS_landlock_restrict_self, rs, 0);
        }
        execve("/bin/true", argvTrue, envp);
        _exit(127);
      }
      double t1 = now();
      if (own >= 0) close(own);
      waitpid(pid, NULL, 0);
      spawn[v][r] = t1 - t0;
      total[v][r] = now() - t0;
    }
  }
  double base[2] = {0, 0};
  printf("| variant | spawn ms | added | to exit ms | added |\n|---|---|---|---|---|\n");
  for (int v = 0; v < VARIANTS; v++) {
    if (!landlock && v >= LANDLOCK) continue;
    qsort(spawn[v], rounds, sizeof(double), cmp);
    qsort(total[v], rounds, sizeof(double), cmp);
    double sm = spawn[v][rounds / 2], tm = total[v][rounds / 2];
    if (v == PLAIN) base[0] = sm, base[1] = tm;
    printf("| %s | %.3f | %+.3f | %.3f | %+.3f |\n", names[v], sm, sm - base[0], tm, tm - base[1]);
  }
  return 0;
}
