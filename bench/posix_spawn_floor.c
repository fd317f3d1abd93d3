/*
 * The floor for bench/run.mjs: posix_spawn(3) of a program and waitpid(2) for it, in a plain C
 * loop, timed by the loop itself (CLOCK_MONOTONIC), so no Node.js overhead is in the figure.
 * glibc's posix_spawn is clone(CLONE_VM|CLONE_VFORK) + exec, so its cost does not grow with the
 * caller's RSS; `rss_mb` lets the caller check that by allocating that much first, every page
 * faulted in (MAP_POPULATE: real pages and page tables, counted in the RSS; the kernel faults
 * them in, which on a VM is several times faster than a loop touching each page).
 *
 * usage: posix_spawn_floor PROGRAM MODE N CONCURRENCY ROUNDS WARMUP RSS_MB [ARG...]
 *   MODE seq:  N spawns one after another per round
 *   MODE conc: N spawns per round with up to CONCURRENCY children alive at once
 *   MODE many: N children alive at once (bench/many.mjs): posix_spawn all N one after another
 *              (CONCURRENCY, ROUNDS and WARMUP are ignored), then SIGKILL each and waitpid each
 *   MODE serve: one round per line read from stdin, "seq N WARMUP" or "conc N WARMUP", each
 *              answered as below and then "done" (flushed), until EOF; so that bench/run.mjs can
 *              let the floor take its turns among the Node variants while the ballast stays
 *              mapped (N, CONCURRENCY, ROUNDS and WARMUP of the command line: CONCURRENCY only)
 * ARGs after RSS_MB are passed to the children (many: `sleep 600`).
 * The child's stdin/stdout/stderr are /dev/null (as stdio: 'ignore').
 *
 * Output, one line per round:  round <wall_ns> <n> [<latency_ns> ...]
 * (latencies, spawn to reaped exit, only in seq mode); in seq mode also one line per round
 * "spawned <ns> ..." (how long posix_spawn itself took, i.e. until the child had exec'd);
 * then "rss <bytes>".
 * many prints, as soon as the first child runs, "pgid <pgid>" (flushed: the children are all in
 * that process group, so a caller can kill them all should this program die between start and
 * stop), then "many <n> <start_ns> <stop_ns>", "many_cpu <user_us> <system_us>" (this process's
 * own CPU time during the start stretch: getrusage; a vfork child's work until its exec is the
 * child's, as with confine's spawn), "many_marks <ns> ..." (the time since the start at which
 * each tenth of the N spawns had returned: whether a spawn gets slower with more children alive)
 * and "rss <bytes>". On any failure it kills and reaps the children it has started before it exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static posix_spawn_file_actions_t fa;
static char *prog;
static char **child_argv;

static pid_t spawn_one(void) {
  pid_t pid;
  int rc = posix_spawn(&pid, prog, &fa, NULL, child_argv, environ);
  if (rc != 0) {
    fprintf(stderr, "posix_spawn %s: %s\n", prog, strerror(rc));
    exit(2);
  }
  return pid;
}

static void reap(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) {
      perror("waitpid");
      exit(2);
    }
  }
}

static long rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return res * sysconf(_SC_PAGESIZE);
}

static void reap_quietly(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
}

/* Children of many(): killed and reaped on every way out. */
static pid_t *many_pids;
static volatile sig_atomic_t many_alive;
static volatile sig_atomic_t many_pgid;

static void many_cleanup(void) {
  if (many_pgid > 0) kill(-many_pgid, SIGKILL); /* also one spawned but not yet recorded */
  for (int i = 0; i < many_alive; i++) kill(many_pids[i], SIGKILL);
  for (int i = 0; i < many_alive; i++) reap_quietly(many_pids[i]);
  many_alive = 0;
}

static void many_on_signal(int sig) {
  (void)sig;
  if (many_pgid > 0) kill(-many_pgid, SIGKILL);
  for (int i = 0; i < many_alive; i++) kill(many_pids[i], SIGKILL);
  _exit(3);
}

/*
 * N children alive at once: posix_spawn them one after another (each in the process group of
 * the first), then SIGKILL every one and waitpid every one. Two timed stretches.
 */
static int many(int n) {
  many_pids = calloc((size_t)n, sizeof *many_pids);
  if (!many_pids) return 3;
  atexit(many_cleanup);
  signal(SIGTERM, many_on_signal);
  signal(SIGINT, many_on_signal);
  signal(SIGHUP, many_on_signal);
  signal(SIGPIPE, SIG_IGN);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  /* The signals wait while the first child is made, until its pid names the group. */
  sigset_t stop_sigs, old;
  sigemptyset(&stop_sigs);
  sigaddset(&stop_sigs, SIGTERM);
  sigaddset(&stop_sigs, SIGINT);
  sigaddset(&stop_sigs, SIGHUP);
  sigprocmask(SIG_BLOCK, &stop_sigs, &old);

  uint64_t marks[10] = {0};
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  uint64_t t0 = now_ns();
  for (int i = 0; i < n; i++) {
    pid_t pid;
    int rc = posix_spawn(&pid, prog, &fa, &attr, child_argv, environ);
    if (rc != 0) {
      fprintf(stderr, "posix_spawn %s (child %d of %d): %s\n", prog, i + 1, n, strerror(rc));
      return 2; /* atexit: kill and reap */
    }
    many_pids[many_alive] = pid;
    many_alive++;
    if (i == 0) {
      many_pgid = pid;
      sigprocmask(SIG_SETMASK, &old, NULL);
      posix_spawnattr_setpgroup(&attr, pid);
      /* Inside the timed stretch: one write, so the caller can kill the group if we die. */
      printf("pgid %d\n", (int)pid);
      fflush(stdout);
    }
    int tenth = (int)((long long)(i + 1) * 10 / n); /* tenths of n done */
    if (tenth > 0 && marks[tenth - 1] == 0) marks[tenth - 1] = now_ns() - t0;
  }
  uint64_t t1 = now_ns();
  getrusage(RUSAGE_SELF, &ru1);
  for (int i = 0; i < n; i++) kill(many_pids[i], SIGKILL);
  int reaped = 0;
  for (int i = 0; i < n; i++) {
    int st;
    for (;;) {
      if (waitpid(many_pids[i], &st, 0) >= 0) {
        reaped++;
        break;
      }
      if (errno != EINTR) {
        perror("waitpid");
        return 2;
      }
    }
  }
  uint64_t t2 = now_ns();
  many_alive = 0;
  many_pgid = 0;
  posix_spawnattr_destroy(&attr);
  printf("many %d %llu %llu\n", reaped, (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1));
  long long us0 = ru0.ru_utime.tv_sec * 1000000ll + ru0.ru_utime.tv_usec, us1 = ru1.ru_utime.tv_sec * 1000000ll + ru1.ru_utime.tv_usec;
  long long ss0 = ru0.ru_stime.tv_sec * 1000000ll + ru0.ru_stime.tv_usec, ss1 = ru1.ru_stime.tv_sec * 1000000ll + ru1.ru_stime.tv_usec;
  printf("many_cpu %lld %lld\nmany_marks", us1 - us0, ss1 - ss0);
  for (int k = 0; k < 10; k++) printf(" %llu", (unsigned long long)marks[k]);
  printf("\n");
  return 0;
}

/* ROUNDS rounds of N spawns after WARMUP unreported ones: the output lines described above. */
static int rounds_of(int conc_mode, int n, int conc, int rounds, int warmup) {
  for (int i = 0; i < warmup; i++) reap(spawn_one());

  uint64_t *lat = calloc((size_t)n, sizeof *lat);
  uint64_t *spl = calloc((size_t)n, sizeof *spl);
  if (!lat || !spl) return 3;
  for (int r = 0; r < rounds; r++) {
    uint64_t t0 = now_ns();
    if (!conc_mode) {
      for (int i = 0; i < n; i++) {
        uint64_t a = now_ns();
        pid_t pid = spawn_one();
        spl[i] = now_ns() - a;
        reap(pid);
        lat[i] = now_ns() - a;
      }
    } else {
      int started = 0, alive = 0;
      while (started < n || alive > 0) {
        while (alive < conc && started < n) {
          spawn_one();
          started++;
          alive++;
        }
        int st;
        pid_t p = waitpid(-1, &st, 0);
        if (p < 0) {
          if (errno == EINTR) continue;
          perror("waitpid");
          return 2;
        }
        alive--;
      }
    }
    uint64_t wall = now_ns() - t0;
    printf("round %llu %d", (unsigned long long)wall, n);
    if (!conc_mode)
      for (int i = 0; i < n; i++) printf(" %llu", (unsigned long long)lat[i]);
    printf("\n");
    if (!conc_mode) {
      printf("spawned");
      for (int i = 0; i < n; i++) printf(" %llu", (unsigned long long)spl[i]);
      printf("\n");
    }
  }
  free(lat);
  free(spl);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: %s PROGRAM seq|conc|many|serve N CONCURRENCY ROUNDS WARMUP RSS_MB [ARG...]\n", argv[0]);
    return 2;
  }
  prog = argv[1];
  /* argv[0] of the child is PROGRAM, then the ARGs: reuse argv's tail, NULL-terminated. */
  child_argv = calloc((size_t)(argc - 8 + 2), sizeof *child_argv);
  if (!child_argv) return 3;
  child_argv[0] = prog;
  for (int i = 8; i < argc; i++) child_argv[i - 7] = argv[i];
  int conc_mode = strcmp(argv[2], "conc") == 0;
  int many_mode = strcmp(argv[2], "many") == 0;
  int serve_mode = strcmp(argv[2], "serve") == 0;
  if (!many_mode && !conc_mode && !serve_mode && strcmp(argv[2], "seq") != 0) {
    fprintf(stderr, "unknown mode %s\n", argv[2]);
    return 2;
  }
  int n = atoi(argv[3]), conc = atoi(argv[4]), rounds = atoi(argv[5]), warmup = atoi(argv[6]);
  long rss_mb = atol(argv[7]);
  if (n < 1 || conc < 1 || rounds < 1 || warmup < 0 || rss_mb < 0) return 2;

  /* Every page faulted in, so the pages and page tables are real, as in the Node supervisor. */
  size_t ballast_len = (size_t)rss_mb << 20;
  char *ballast = NULL;
  if (ballast_len) {
    ballast = mmap(NULL, ballast_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (ballast == MAP_FAILED) return 3;
    for (size_t i = 0; i < ballast_len; i += 1 << 20) ballast[i] = (char)(i >> 20 | 1);
  }

  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);

  if (many_mode) {
    int rc = many(n);
    if (rc == 0) printf("rss %ld\n", rss_bytes());
    if (ballast) munmap(ballast, ballast_len);
    return rc;
  }

  if (serve_mode) {
    char line[128], what[16];
    int rn, rw;
    while (fgets(line, sizeof line, stdin)) {
      if (sscanf(line, "%15s %d %d", what, &rn, &rw) != 3 || rn < 1 || rw < 0) return 2;
      int rc = rounds_of(strcmp(what, "conc") == 0, rn, conc, 1, rw);
      if (rc != 0) return rc;
      printf("done\n");
      fflush(stdout);
    }
  } else {
    int rc = rounds_of(conc_mode, n, conc, rounds, warmup);
    if (rc != 0) return rc;
  }
  printf("rss %ld\n", rss_bytes());
  /* keep the ballast alive until the end */
  if (ballast) munmap(ballast, ballast_len);
  return 0;
}
