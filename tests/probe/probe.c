/* probe - a tiny static program run inside test containers to report what it sees.
 *
 *   probe            key=value lines: ids, groups, caps, no_new_privs, seccomp, umask, cwd,
 *                    hostname, pid, oom_score_adj, rlimits, env, cgroup, mounts
 *   probe exit N     exit with status N
 *   probe sleep S    sleep S seconds (a long-running container)
 *   probe open PATH  try to open PATH read-write; prints "open=ok" or "open=<errno name>"
 *   probe mkdir PATH try mkdir; prints "mkdir=ok" or "mkdir=<errno>"
 *   probe write PATH TEXT   write TEXT to PATH
 *   probe cat PATH   print a file
 *   probe signals    print each signal it receives ("got=N") until SIGTERM, then exit 143
 *
 * Built -static by the project so no distro image is needed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

extern char** environ;

static void print_file_lines(const char* prefix, const char* path) {
  FILE* f = fopen(path, "r");
  if (!f) return;
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    printf("%s=%s\n", prefix, line);
  }
  fclose(f);
}

static void print_status_fields(void) {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return;
  char line[512];
  const char* keys[] = {"CapInh", "CapPrm",     "CapEff",  "CapBnd",
                        "CapAmb", "NoNewPrivs", "Seccomp", "Umask"};
  while (fgets(line, sizeof line, f)) {
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
      size_t n = strlen(keys[i]);
      if (strncmp(line, keys[i], n) == 0 && line[n] == ':') {
        char* v = line + n + 1;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = 0;
        printf("%s=%s\n", keys[i], v);
      }
    }
  }
  fclose(f);
}

static void print_rlimits(void) {
  static const struct {
    int r;
    const char* name;
  } rl[] = {{RLIMIT_NOFILE, "NOFILE"},
            {RLIMIT_NPROC, "NPROC"},
            {RLIMIT_CORE, "CORE"},
            {RLIMIT_MEMLOCK, "MEMLOCK"},
            {RLIMIT_STACK, "STACK"}};
  for (size_t i = 0; i < sizeof rl / sizeof rl[0]; i++) {
    struct rlimit l;
    if (getrlimit(rl[i].r, &l) == 0)
      printf("rlimit.%s=%llu/%llu\n", rl[i].name, (unsigned long long)l.rlim_cur,
             (unsigned long long)l.rlim_max);
  }
}

static int report_all(void) {
  printf("uid=%d\ngid=%d\neuid=%d\n", getuid(), getgid(), geteuid());
  gid_t groups[64];
  int n = getgroups(64, groups);
  printf("groups=");
  for (int i = 0; i < n; i++) printf("%s%d", i ? "," : "", groups[i]);
  printf("\n");
  print_status_fields();
  char buf[4096];
  if (getcwd(buf, sizeof buf)) printf("cwd=%s\n", buf);
  if (gethostname(buf, sizeof buf) == 0) printf("hostname=%s\n", buf);
  printf("pid=%d\nppid=%d\n", getpid(), getppid());
  print_file_lines("oom_score_adj", "/proc/self/oom_score_adj");
  print_rlimits();
  for (char** e = environ; *e; e++) printf("env=%s\n", *e);
  print_file_lines("cgroup", "/proc/self/cgroup");
  print_file_lines("mount", "/proc/self/mountinfo");
  printf("isatty=%d\n", isatty(0));
  return 0;
}

static volatile sig_atomic_t last_sig;
static void on_signal(int s) {
  last_sig = s;
}

static int signals_loop(void) {
  for (int s = 1; s < 32; s++)
    if (s != SIGKILL && s != SIGSTOP) signal(s, on_signal);
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    pause();
    printf("got=%d\n", (int)last_sig);
    fflush(stdout);
    if (last_sig == SIGTERM) return 143;
  }
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) return report_all();
  const char* cmd = argv[1];
  const char* arg = argc > 2 ? argv[2] : "";
  if (!strcmp(cmd, "exit")) return atoi(arg);
  if (!strcmp(cmd, "sleep")) {
    sleep((unsigned)atoi(arg));
    return 0;
  }
  if (!strcmp(cmd, "open")) {
    int fd = open(arg, O_RDWR);
    printf("open=%s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
    return fd >= 0 ? 0 : 1;
  }
  if (!strcmp(cmd, "mkdir")) {
    int r = mkdir(arg, 0755);
    printf("mkdir=%s\n", r == 0 ? "ok" : strerrorname_np(errno));
    return r == 0 ? 0 : 1;
  }
  if (!strcmp(cmd, "write") && argc > 3) {
    int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, argv[3], strlen(argv[3])) < 0) {
      printf("write=%s\n", strerrorname_np(errno));
      return 1;
    }
    close(fd);
    printf("write=ok\n");
    return 0;
  }
  if (!strcmp(cmd, "cat")) {
    print_file_lines("line", arg);
    return 0;
  }
  if (!strcmp(cmd, "signals")) return signals_loop();
  fprintf(stderr, "probe: unknown command %s\n", cmd);
  return 2;
}
