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
 *   probe x11        connect to the X server named by $DISPLAY over /tmp/.X11-unix/XN with
 *                    the MIT-MAGIC-COOKIE-1 from $XAUTHORITY (or ~/.Xauthority), if any;
 *                    prints "x11: connected, vendor V" (exit 0) or why not (exit 1)
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
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

/* --- x11: the X11 connection setup, by hand, so no libX11 is needed in the container --- */

#define X11_COOKIE_NAME "MIT-MAGIC-COOKIE-1"
#define X11_FAMILY_LOCAL 256
#define X11_FAMILY_WILD 65535

struct x11_cookie {
  unsigned char data[256];
  size_t len;
  int found;
};

/* ":N" or ":N.S" (an optional "unix" host is the same socket); the display number or -1. */
static int x11_display_number(const char* display) {
  const char* colon = strrchr(display, ':');
  if (!colon) return -1;
  size_t host = (size_t)(colon - display);
  if (host != 0 && !(host == 4 && !strncmp(display, "unix", 4))) return -1;
  char* end;
  errno = 0;
  long n = strtol(colon + 1, &end, 10);
  if (errno || end == colon + 1 || n < 0 || n > 65535) return -1;
  if (*end == '.') {
    const char* screen = end + 1;
    strtol(screen, &end, 10);
    if (end == screen) return -1;
  }
  return *end ? -1 : (int)n;
}

static int read_u16be(FILE* f, unsigned* v) {
  unsigned char b[2];
  if (fread(b, 1, 2, f) != 2) return -1;
  *v = (unsigned)b[0] << 8 | b[1];
  return 0;
}

/* One u16-length-prefixed field of an Xauthority record, into buf (cap bytes, NUL added). */
static int read_counted(FILE* f, unsigned char* buf, size_t cap, size_t* len) {
  unsigned n;
  if (read_u16be(f, &n) != 0 || n >= cap || fread(buf, 1, n, f) != n) return -1;
  buf[n] = 0;
  *len = n;
  return 0;
}

/* The Xauthority file's MIT-MAGIC-COOKIE-1 for display number; a FamilyLocal or FamilyWild
 * entry wins over others (the address is not checked: a container's hostname differs). */
static void x11_find_cookie(const char* path, int number, struct x11_cookie* out) {
  FILE* f = fopen(path, "rb");
  if (!f) return;
  char want[16];
  snprintf(want, sizeof want, "%d", number);
  int best = 0; /* 0 none, 1 some family, 2 local or wild */
  for (;;) {
    unsigned family;
    unsigned char addr[256], num[256], name[256], data[256];
    size_t addr_len, num_len, name_len, data_len;
    if (read_u16be(f, &family) != 0 || read_counted(f, addr, sizeof addr, &addr_len) != 0 ||
        read_counted(f, num, sizeof num, &num_len) != 0 ||
        read_counted(f, name, sizeof name, &name_len) != 0 ||
        read_counted(f, data, sizeof data, &data_len) != 0)
      break;
    if (strcmp((char*)num, want) || strcmp((char*)name, X11_COOKIE_NAME)) continue;
    int rank = (family == X11_FAMILY_LOCAL || family == X11_FAMILY_WILD) ? 2 : 1;
    if (rank <= best) continue;
    best = rank;
    memcpy(out->data, data, data_len);
    out->len = data_len;
    out->found = 1;
  }
  fclose(f);
}

static const char* x11_auth_path(char* buf, size_t cap) {
  const char* env = getenv("XAUTHORITY");
  if (env && *env) return env;
  const char* home = getenv("HOME");
  if (!home || !*home) return NULL;
  snprintf(buf, cap, "%s/.Xauthority", home);
  return buf;
}

static int x11_connect(int number) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "/tmp/.X11-unix/X%d", number);
  if (access(sa.sun_path, F_OK) != 0) {
    printf("x11: socket %s: %s\n", sa.sun_path, strerrorname_np(errno));
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr*)&sa, sizeof sa) != 0) {
    printf("x11: connect %s: %s\n", sa.sun_path, strerrorname_np(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  struct timeval tv = {.tv_sec = 10}; /* a server that never answers is a failure, not a hang */
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static int write_all(int fd, const unsigned char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads exactly n bytes; -1 on error, timeout or early end. */
static int read_all(int fd, unsigned char* p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static size_t pad4(size_t n) {
  return (n + 3) & ~(size_t)3;
}

/* The setup request: byte order 'l' (little-endian), protocol 11.0, auth name and data. */
static int x11_send_setup(int fd, const struct x11_cookie* c) {
  unsigned char req[12 + 20 + 256] = {0};
  size_t name_len = c->found ? strlen(X11_COOKIE_NAME) : 0;
  size_t data_len = c->found ? c->len : 0;
  req[0] = 'l';
  req[2] = 11; /* major, little-endian CARD16 */
  req[6] = (unsigned char)name_len;
  req[8] = (unsigned char)data_len;
  req[9] = (unsigned char)(data_len >> 8);
  memcpy(req + 12, X11_COOKIE_NAME, name_len);
  memcpy(req + 12 + pad4(name_len), c->data, data_len);
  return write_all(fd, req, 12 + pad4(name_len) + pad4(data_len));
}

static unsigned le16(const unsigned char* p) {
  return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/* Reads the reply (header, then at most sizeof extra bytes of its additional data). */
static int x11_read_reply(int fd) {
  unsigned char head[8], extra[4096];
  errno = 0; /* read_all leaves it alone when the server just closes */
  if (read_all(fd, head, sizeof head) != 0) {
    printf("x11: no setup reply: %s\n", errno ? strerrorname_np(errno) : "connection closed");
    return 1;
  }
  size_t len = (size_t)le16(head + 6) * 4;
  size_t got = len < sizeof extra ? len : sizeof extra;
  if (read_all(fd, extra, got) != 0) got = 0;
  if (head[0] == 1) {
    /* The vendor's length is a CARD16 16 bytes into the additional data; the vendor
     * string follows its fixed 32-byte part. */
    size_t vlen = 0;
    if (got >= 32) {
      vlen = le16(extra + 16);
      if (vlen > got - 32) vlen = got - 32;
    }
    printf("x11: connected, vendor %.*s\n", (int)vlen, (const char*)extra + 32);
    return 0;
  }
  if (head[0] == 0) {
    size_t rlen = head[1] < got ? head[1] : got; /* the reason starts at byte 8 */
    while (rlen > 0 && (extra[rlen - 1] == '\n' || extra[rlen - 1] == 0)) rlen--;
    printf("x11: refused: %.*s\n", (int)rlen, (const char*)extra);
    return 1;
  }
  printf("x11: refused: server wants further authentication (reply %d)\n", head[0]);
  return 1;
}

static int x11_check(void) {
  const char* display = getenv("DISPLAY");
  if (!display || !*display) {
    printf("x11: DISPLAY is not set\n");
    return 1;
  }
  int number = x11_display_number(display);
  if (number < 0) {
    printf("x11: DISPLAY=%s is not :N or :N.S (only the local unix socket is supported)\n",
           display);
    return 1;
  }
  char buf[4096];
  struct x11_cookie cookie = {.found = 0};
  const char* auth = x11_auth_path(buf, sizeof buf);
  if (auth) x11_find_cookie(auth, number, &cookie);
  printf("x11: display %d, cookie %s\n", number, cookie.found ? "found" : "none");
  int fd = x11_connect(number);
  if (fd < 0) return 1;
  int rc = 1;
  if (x11_send_setup(fd, &cookie) != 0)
    printf("x11: sending the setup request: %s\n", strerrorname_np(errno));
  else
    rc = x11_read_reply(fd);
  close(fd);
  return rc;
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
  if (!strcmp(cmd, "x11")) return x11_check();
  fprintf(stderr, "probe: unknown command %s\n", cmd);
  return 2;
}
