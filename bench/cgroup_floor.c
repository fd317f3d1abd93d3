/*
 * The kernel's own cost of a cgroup per spawn, for bench/run.mjs: the same spawn of a program
 * twice, in alternating rounds in one process, once plain ("base") and once with a fresh cgroup
 * per child ("cg"): mkdir one directory in each given parent, write the given limit files, let
 * the child join each by writing "0" to its cgroup.procs before execve (the cheapest join there
 * is, on v1 and v2 alike), wait for it, rmdir them. cg − base is the least any implementation
 * can add for "its own cgroup with limits, created and removed per spawn" on this kernel, which
 * the issue's ≤ 0.5 ms target is then read against. No Node.js in the figures.
 *
 * Both modes start the child the same way: vfork(2), then only async-signal-safe calls (write,
 * dup2, execve, _exit) in the child. stdin/stdout/stderr are /dev/null (stdio: 'ignore').
 *
 * usage: cgroup_floor PROGRAM seq|conc|many|serve N CONCURRENCY ROUNDS WARMUP SPEC...
 *   SPEC  PARENT_DIR[,FILE=VALUE...]   a parent cgroup directory (one per hierarchy the tree
 *         joins), and the files to write in each new child directory before the spawn
 *   seq:  N spawns one after another per round; conc: N per round, CONCURRENCY alive at once
 *   many: N children alive at once (bench/many.mjs's mode): start all N one after another (each
 *         with its fresh directories in cg rounds), then SIGKILL, reap and remove each; only the
 *         start stretch is timed (CONCURRENCY is ignored; the program gets the argument in
 *         $FLOOR_CHILD_ARG, e.g. `sleep 600`)
 *   serve: one request per line read from stdin, "seq|conc N WARMUP ORDER" (N, ROUNDS and
 *         WARMUP of the command line are then ignored): WARMUP uncounted spawns of the plain
 *         kind and its round, and the same with a cgroup (ORDER 0: plain first, 1: cgroup
 *         first), each round followed by the settle, both round lines, and "done", so that
 *         bench/run.mjs can give this floor its turns among the other variants
 * The child directories are PARENT_DIR/floor-<pid>-<n>; every one is removed on every way out.
 * FLOOR_SETTLE_MS (default 200): untimed rest after each round, for the kernel's deferred work of
 * the cgroups just removed (RCU, css release), so that it lands in no round's figure.
 *
 * Output, one line per round:  round base|cg <wall_ns> <n>
 * many: one line per round:   many base|cg <start_ns> <n> <user_us> <system_us>
 *       (this process's CPU time during the start stretch: getrusage, as posix_spawn_floor's)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

#define MAX_SPECS 8
#define MAX_FILES 8
#define MAX_CONC 256

struct spec {
  const char* parent;
  int nfiles;
  char* file[MAX_FILES];
  char* value[MAX_FILES];
};

/* One child's cgroup directories: one per spec. */
struct slot {
  pid_t pid;
  char dir[MAX_SPECS][512];
  int procs_fd[MAX_SPECS];
  int made; /* directories created so far */
};

static struct spec specs[MAX_SPECS];
static int nspecs;
static char* prog;
static char* child_argv[3];
static int devnull_in = -1, devnull_out = -1;
static struct slot slots[MAX_CONC];
/* many mode: one slot per child alive at once (N of them, allocated once). */
static struct slot* many_slots;
static int many_n;
static unsigned long serial;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Remove a slot's directories (its child must be gone); safe to call twice. */
static void slot_release(struct slot* s) {
  for (int i = s->made - 1; i >= 0; i--) {
    if (s->procs_fd[i] >= 0) close(s->procs_fd[i]);
    s->procs_fd[i] = -1;
    if (rmdir(s->dir[i]) != 0 && errno != ENOENT)
      fprintf(stderr, "rmdir %s: %s\n", s->dir[i], strerror(errno));
  }
  s->made = 0;
  s->pid = 0;
}

/* On any failure: kill and reap the children still running, remove every directory. */
static void cleanup_slots(struct slot* ss, int count) {
  for (int i = 0; i < count; i++) {
    if (ss[i].pid > 0) {
      int st;
      kill(ss[i].pid, SIGKILL);
      while (waitpid(ss[i].pid, &st, 0) < 0 && errno == EINTR) {}
    }
    slot_release(&ss[i]);
  }
}

static void cleanup(void) {
  cleanup_slots(slots, MAX_CONC);
  if (many_slots) cleanup_slots(many_slots, many_n);
}

/* SIGTERM/SIGINT: the same, with async-signal-safe calls only, then _exit. */
static void end_slots_now(struct slot* ss, int count) {
  for (int i = 0; i < count; i++) {
    int st;
    if (ss[i].pid > 0 && kill(ss[i].pid, SIGKILL) == 0) waitpid(ss[i].pid, &st, 0);
    for (int d = ss[i].made - 1; d >= 0; d--) rmdir(ss[i].dir[d]);
  }
}

static void on_signal(int sig) {
  (void)sig;
  end_slots_now(slots, MAX_CONC);
  if (many_slots) end_slots_now(many_slots, many_n);
  _exit(3);
}

static void fail(const char* what, const char* arg) {
  fprintf(stderr, "cgroup_floor: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
  exit(2);
}

static void write_file(const char* dir, const char* file, const char* value) {
  char p[640];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail("open", p);
  ssize_t n = write(fd, value, strlen(value));
  close(fd);
  if (n < 0) fail("write", p);
}

/* A fresh directory in every parent, its limits written, its cgroup.procs open. */
static void slot_prepare(struct slot* s) {
  for (int i = 0; i < nspecs; i++) {
    snprintf(s->dir[i], sizeof s->dir[i], "%s/floor-%d-%lu", specs[i].parent, (int)getpid(),
             serial);
    /* Counted before the mkdir: a signal between the two must not leave the directory behind
     * (removal tolerates ENOENT). */
    s->procs_fd[i] = -1;
    s->made = i + 1;
    if (mkdir(s->dir[i], 0755) != 0) fail("mkdir", s->dir[i]);
    for (int f = 0; f < specs[i].nfiles; f++)
      write_file(s->dir[i], specs[i].file[f], specs[i].value[f]);
    char p[640];
    snprintf(p, sizeof p, "%s/cgroup.procs", s->dir[i]);
    s->procs_fd[i] = open(p, O_WRONLY | O_CLOEXEC);
    if (s->procs_fd[i] < 0) fail("open", p);
  }
  serial++;
}

/* Start one child; with a slot, it joins the slot's cgroups first. Returns once it has exec'd.
 * SIGTERM/SIGINT are held until the slot knows the child's pid: the handler then kills it
 * before removing its (busy) directories. */
static pid_t start(struct slot* s) {
  int n = s ? nspecs : 0;
  sigset_t ending, old;
  sigemptyset(&ending);
  sigaddset(&ending, SIGTERM);
  sigaddset(&ending, SIGINT);
  sigprocmask(SIG_BLOCK, &ending, &old);
  pid_t pid = vfork();
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    for (int i = 0; i < n; i++)
      if (write(s->procs_fd[i], "0", 1) != 1) _exit(126);
    if (dup2(devnull_in, 0) < 0 || dup2(devnull_out, 1) < 0 || dup2(devnull_out, 2) < 0) _exit(126);
    execve(prog, child_argv, environ);
    _exit(127);
  }
  if (pid > 0 && s) s->pid = pid;
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (pid < 0) fail("vfork", NULL);
  return pid;
}

static void check_status(int st) {
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "cgroup_floor: child ended with status 0x%x (126: joining a cgroup failed)\n",
            st);
    exit(2);
  }
}

static void one_seq(int with_cgroup) {
  struct slot* s = with_cgroup ? &slots[0] : NULL;
  if (s) slot_prepare(s);
  pid_t pid = start(s);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) fail("waitpid", NULL);
  /* Reaped: forgotten before anything can exit (the cleanup must not kill a reused pid). */
  if (s) s->pid = 0;
  check_status(st);
  if (s) slot_release(s);
}

static void round_conc(int with_cgroup, int n, int conc) {
  int started = 0, alive = 0;
  while (started < n || alive > 0) {
    while (alive < conc && started < n) {
      struct slot* s = NULL;
      if (with_cgroup) {
        for (int i = 0; i < conc && !s; i++)
          if (slots[i].pid == 0 && slots[i].made == 0) s = &slots[i];
        slot_prepare(s);
      }
      start(s);
      started++;
      alive++;
    }
    int st;
    pid_t p = waitpid(-1, &st, 0);
    if (p < 0) {
      if (errno == EINTR) continue;
      fail("waitpid", NULL);
    }
    alive--;
    struct slot* done = NULL;
    if (with_cgroup)
      for (int i = 0; i < conc && !done; i++)
        if (slots[i].pid == p) done = &slots[i];
    if (done) done->pid = 0; /* reaped: forgotten before check_status can exit */
    check_status(st);
    if (done) slot_release(done);
  }
}

/* This process's user and system CPU time so far, in microseconds. */
static void cpu_now(uint64_t* user_us, uint64_t* system_us) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *user_us = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec;
  *system_us = (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}

/* N children alive at once: the start stretch timed and its CPU counted, then every child
 * killed, reaped and its directories removed (not timed). The join fds are closed once the
 * child has joined, so N × specs fds are never open at once. */
static void round_many(int with_cgroup, int n) {
  uint64_t u0, s0, u1, s1;
  cpu_now(&u0, &s0);
  uint64_t t0 = now_ns();
  for (int i = 0; i < n; i++) {
    struct slot* s = &many_slots[i];
    if (with_cgroup) slot_prepare(s);
    s->pid = start(with_cgroup ? s : NULL);
    for (int d = 0; d < s->made; d++) {
      if (s->procs_fd[d] >= 0) close(s->procs_fd[d]);
      s->procs_fd[d] = -1;
    }
  }
  uint64_t t1 = now_ns();
  cpu_now(&u1, &s1);
  for (int i = 0; i < n; i++) kill(many_slots[i].pid, SIGKILL);
  for (int i = 0; i < n; i++) {
    int st;
    while (waitpid(many_slots[i].pid, &st, 0) < 0)
      if (errno != EINTR) fail("waitpid", NULL);
    many_slots[i].pid = 0;
    /* Each child must have run until our SIGKILL: one that exited by itself (126: its join
     * failed before the exec) would have made the round time a cheaper path. */
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
      fprintf(stderr,
              "cgroup_floor: a child ended before its SIGKILL, status 0x%x (126: joining a cgroup "
              "failed)\n",
              st);
      exit(2);
    }
    slot_release(&many_slots[i]);
  }
  printf("many %s %llu %d %llu %llu\n", with_cgroup ? "cg" : "base", (unsigned long long)(t1 - t0),
         n, (unsigned long long)(u1 - u0), (unsigned long long)(s1 - s0));
  fflush(stdout);
}

static void parse_spec(char* arg, struct spec* sp) {
  sp->parent = strtok(arg, ",");
  sp->nfiles = 0;
  for (char* kv = strtok(NULL, ","); kv; kv = strtok(NULL, ",")) {
    char* eq = strchr(kv, '=');
    if (!eq || sp->nfiles == MAX_FILES) {
      fprintf(stderr, "cgroup_floor: bad FILE=VALUE %s\n", kv);
      exit(2);
    }
    *eq = '\0';
    sp->file[sp->nfiles] = kv;
    sp->value[sp->nfiles] = eq + 1;
    sp->nfiles++;
  }
}

int main(int argc, char** argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: %s PROGRAM seq|conc|many|serve N CONCURRENCY ROUNDS WARMUP SPEC...\n",
            argv[0]);
    return 2;
  }
  prog = argv[1];
  child_argv[0] = prog;
  child_argv[1] = getenv("FLOOR_CHILD_ARG");
  child_argv[2] = NULL;
  int conc_mode = strcmp(argv[2], "conc") == 0;
  int many_mode = strcmp(argv[2], "many") == 0;
  int serve_mode = strcmp(argv[2], "serve") == 0;
  if (!conc_mode && !many_mode && !serve_mode && strcmp(argv[2], "seq") != 0) return 2;
  int n = atoi(argv[3]), conc = atoi(argv[4]), rounds = atoi(argv[5]), warmup = atoi(argv[6]);
  if (n < 1 || conc < 1 || conc > MAX_CONC || rounds < 1 || warmup < 0) return 2;
  const char* settle = getenv("FLOOR_SETTLE_MS");
  int settle_ms = settle ? atoi(settle) : 200;
  nspecs = argc - 7;
  if (nspecs > MAX_SPECS) return 2;
  for (int i = 0; i < nspecs; i++) parse_spec(argv[7 + i], &specs[i]);

  atexit(cleanup);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  devnull_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  devnull_out = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull_in < 0 || devnull_out < 0) fail("open", "/dev/null");

  if (serve_mode) {
    char line[128], what[16];
    int rn, rw, order;
    while (fgets(line, sizeof line, stdin)) {
      if (sscanf(line, "%15s %d %d %d", what, &rn, &rw, &order) != 4 || rn < 1 || rw < 0 ||
          (order != 0 && order != 1) || (strcmp(what, "seq") != 0 && strcmp(what, "conc") != 0)) {
        fprintf(stderr, "cgroup_floor: bad request \"%s\" (seq|conc N WARMUP ORDER)\n",
                strtok(line, "\n"));
        return 2;
      }
      for (int k = 0; k < 2; k++) {
        int with_cgroup = k ^ order;
        for (int i = 0; i < rw; i++) one_seq(with_cgroup);
        uint64_t t0 = now_ns();
        if (strcmp(what, "conc") == 0) round_conc(with_cgroup, rn, conc);
        else
          for (int i = 0; i < rn; i++) one_seq(with_cgroup);
        printf("round %s %llu %d\n", with_cgroup ? "cg" : "base",
               (unsigned long long)(now_ns() - t0), rn);
        if (settle_ms > 0) usleep((useconds_t)settle_ms * 1000);
      }
      printf("done\n");
      fflush(stdout);
    }
    return 0;
  }
  /* (many: no warm-up; its children do not end by themselves) */
  for (int i = 0; i < (many_mode ? 0 : warmup); i++) {
    one_seq(0);
    one_seq(1);
  }
  if (many_mode) {
    many_n = n;
    many_slots = calloc((size_t)n, sizeof *many_slots);
    if (!many_slots) fail("calloc", NULL);
  }
  for (int r = 0; r < rounds; r++) {
    for (int with_cgroup = 0; with_cgroup < 2; with_cgroup++) {
      if (many_mode) {
        round_many(with_cgroup, n);
        if (settle_ms > 0) usleep((useconds_t)settle_ms * 1000);
        continue;
      }
      uint64_t t0 = now_ns();
      if (conc_mode) round_conc(with_cgroup, n, conc);
      else
        for (int i = 0; i < n; i++) one_seq(with_cgroup);
      printf("round %s %llu %d\n", with_cgroup ? "cg" : "base", (unsigned long long)(now_ns() - t0),
             n);
      /* Let the kernel finish the work a round deferred (RCU, cgroup release), so it does
       * not land in the next round's figure. */
      if (settle_ms > 0) usleep((useconds_t)settle_ms * 1000);
    }
  }
  return 0;
}
