/* berth-init - the init `berth run --init` puts at /sbin/docker-init and runs as the
 * container's pid 1 (docker's --init, tini's job): it starts the command as its child in
 * its own process group, forwards the signals it gets to it, reaps every orphan the
 * container leaves, and exits with the command's status (128+N when killed by N).
 * Static, so it runs in any image. Plain C: no allocation after start. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "berth-init: usage: berth-init [--] COMMAND [ARG...]\n");
    return 2;
  }
  int first = (strcmp(argv[1], "--") == 0) ? 2 : 1;
  if (first >= argc) {
    fprintf(stderr, "berth-init: no command\n");
    return 2;
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  if (getpid() != 1) prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "berth-init: fork: %s\n", strerror(errno));
    return 1;
  }
  if (child == 0) {
    setpgid(0, 0);
    /* Give the terminal to the command's group when there is one. */
    if (isatty(0)) {
      signal(SIGTTOU, SIG_IGN);
      tcsetpgrp(0, getpgrp());
      signal(SIGTTOU, SIG_DFL);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    execvp(argv[first], argv + first);
    fprintf(stderr, "berth-init: exec %s: %s\n", argv[first], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      kill(child, sig);
      continue;
    }
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
      if (p != child) continue;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    }
  }
}
