/*
 * The floor for bench/run.mjs: posix_spawn(3) of a program and waitpid(2) for it, in a plain C
 * loop, timed by the loop itself (CLOCK_MONOTONIC), so no Node.js overhead is in the figure.
 * glibc's posix_spawn is clone(CLONE_VM|CLONE_VFORK) + exec, so its cost does not grow with the
 * caller's RSS; `rss_mb` lets the caller check that by allocating and touching that much first.
 *
 * usage: posix_spawn_floor PROGRAM MODE N CONCURRENCY ROUNDS WARMUP RSS_MB
 *   MODE seq:  N spawns one after another per round
 *   MODE conc: N spawns per round with up to CONCURRENCY children alive at once
 * The child's stdin/stdout/stderr are /dev/null (as stdio: 'ignore').
 *
 * Output, one line per round:  round <wall_ns> <n> [<latency_ns> ...]
 * (latencies, spawn to reaped exit, only in seq mode); in seq mode also one line per round
 * "spawned <ns> ..." (how long posix_spawn itself took, i.e. until the child had exec'd);
 * then "rss <bytes>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static pid_t spawn_one(void) {
  pid_t pid;
  char *argv[] = {prog, NULL};
  int rc = posix_spawn(&pid, prog, &fa, NULL, argv, environ);
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

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: %s PROGRAM seq|conc N CONCURRENCY ROUNDS WARMUP RSS_MB\n", argv[0]);
    return 2;
  }
  prog = argv[1];
  int conc_mode = strcmp(argv[2], "conc") == 0;
  int n = atoi(argv[3]), conc = atoi(argv[4]), rounds = atoi(argv[5]), warmup = atoi(argv[6]);
  long rss_mb = atol(argv[7]);
  if (n < 1 || conc < 1 || rounds < 1 || warmup < 0 || rss_mb < 0) return 2;

  /* Touch every page so the page tables are real, as in the Node supervisor. */
  size_t ballast_len = (size_t)rss_mb << 20;
  char *ballast = NULL;
  if (ballast_len) {
    ballast = malloc(ballast_len);
    if (!ballast) return 3;
    for (size_t i = 0; i < ballast_len; i += 4096) ballast[i] = (char)(i >> 12 | 1);
  }

  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);

  for (int i = 0; i < warmup; i++) reap(spawn_one());

  uint64_t *lat = calloc((size_t)n, sizeof *lat);
  uint64_t *spl = calloc((size_t)n, sizeof *spl);
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
  printf("rss %ld\n", rss_bytes());
  /* keep the ballast alive until the end */
  if (ballast) ballast[0] ^= 1;
  free(ballast);
  free(lat);
  free(spl);
  return 0;
}
