// The container init: the launcher's own clone, PID 1 in the new namespaces. It
// joins its cgroups, sets up the root filesystem and the process, reports READY,
// blocks on exec.fifo until `start`, then execve()s the container process
// (init.ts and process-setup.ts in C, in the same order).
#include "launcher.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static int init_sync = -1;
static int ready_sent;

// Before READY the error goes to the parent over the sync socket, which reports
// and cleans up; after it (the fifo wait, exec) to the container's stderr.
static void init_fatal(const char *msg) {
  if (!ready_sent && init_sync >= 0) {
    char buf[4200];
    int n = snprintf(buf, sizeof buf, "E%s", msg);
    write_all(init_sync, buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
    _exit(1);
  }
  dprintf(2, "cradle-runtime: container init: %s\n", msg);
  _exit(127);
}

static const char *const NS_NAMES[][2] = { { "ipc", "ipc" }, { "uts", "uts" }, { "network", "net" } };
static const int NS_FLAGS[] = { CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET };

// CVE-2019-5736: the init runs the host's launcher binary until its final execve.
// The binary is bound read-only onto itself in the init's mount namespace (only the
// mount holding it becomes a slave, so the seal never reaches the host), then the
// init execs it again through that mount: /proc/<init>/exe names the read-only
// mount and cannot be reopened for writing. A bind alone would not do: the exe of a
// running process keeps the mount it was executed from.
// exec seals itself the same way (exec.c) before it joins the container.
const char *seal_binary(void) {
  static char exe[4096];
  char mp[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) die("readlink /proc/self/exe");
  exe[n] = 0;
  int shared = 0;
  if (mount_containing(exe, mp, sizeof mp, &shared) == 0 && mount(NULL, mp, NULL, MS_SLAVE, NULL) < 0) die("seal: make %s a slave", mp);
  if (mount(exe, exe, NULL, MS_BIND, NULL) < 0) die("seal: bind %s", exe);
  if (mount(NULL, exe, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) die("seal: remount %s read-only", exe);
  return exe;
}

void init_reexec(int sync_fd, int console_fd, const char *fifo_path, int no_pivot) {
  fatal_handler = init_fatal;
  init_sync = sync_fd;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const char *exe = seal_binary();
  if (fcntl(sync_fd, F_SETFD, 0) < 0 || (console_fd >= 0 && fcntl(console_fd, F_SETFD, 0) < 0)) die("fcntl");
  char sfd[16], cfd[16];
  snprintf(sfd, sizeof sfd, "%d", sync_fd);
  snprintf(cfd, sizeof cfd, "%d", console_fd);
  char *args[] = { "cradle-runtime", INIT_ARG, sfd, cfd, no_pivot ? "1" : "0", (char *)fifo_path, NULL };
  extern char **environ;
  execve(exe, args, environ);
  die("exec %s", exe);
}

static void read_exact(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(1); // create is gone
    p += n;
    len -= (size_t)n;
  }
}

void init_main(int iargc, char **iargv) {
  if (iargc != 6) _exit(1);
  int sync_fd = atoi(iargv[2]), console_fd = atoi(iargv[3]), no_pivot = strcmp(iargv[4], "1") == 0;
  const char *fifo_path = iargv[5];
  fatal_handler = init_fatal;
  init_sync = sync_fd;
  fcntl(sync_fd, F_SETFD, FD_CLOEXEC);
  if (console_fd >= 0) fcntl(console_fd, F_SETFD, FD_CLOEXEC);
  // Dies with create until READY: a killed create must not leave a half-made init.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // "g", then the plan and the seccomp program create has checked, each after its length.
  char go;
  read_exact(sync_fd, &go, 1);
  if (go != 'g') _exit(1);
  uint32_t plan_len, seccomp_len;
  read_exact(sync_fd, &plan_len, sizeof plan_len);
  char *plan_buf = xmalloc(plan_len + 1);
  read_exact(sync_fd, plan_buf, plan_len);
  read_exact(sync_fd, &seccomp_len, sizeof seccomp_len);
  unsigned char *seccomp = seccomp_len ? xmalloc(seccomp_len) : NULL;
  if (seccomp_len) read_exact(sync_fd, seccomp, seccomp_len);
  static struct plan plan;
  struct plan *p = &plan;
  char why[256];
  if (plan_parse(p, PLAN_VERSION, plan_buf, plan_len, why, sizeof why) != PLAN_OK) dief("launch plan: %s", why);
  p->seccomp = seccomp;
  p->seccomp_len = seccomp_len;

  // In the container's cgroups before a new cgroup ns, so its cgroup is the ns root.
  // "0" to tasks moves only this (single) thread, without the threadgroup lock that
  // a cgroup.procs write takes.
  int new_cgroupns = 0, userns = -1;
  for (int i = 0; i < p->nrecs; i++) {
    struct rec *r = &p->recs[i];
    if (strcmp(r->op, "cgroup") == 0 || strcmp(r->op, "cgroup2") == 0) {
      // v2 has no tasks file: cgroup.procs, whose "0" moves this single-threaded process.
      char *f = xasprintf("%s/%s", r->args[1], strcmp(r->op, "cgroup2") == 0 ? "cgroup.procs" : "tasks");
      if (write_file(f, "0", 1, 0) < 0) die("join cgroup %s", r->args[1]);
      free(f);
    } else if (strcmp(r->op, "namespace") == 0) {
      if (strcmp(r->args[0], "cgroup") == 0 && !*r->args[1]) new_cgroupns = 1;
      // Opened now (a host path), joined once the root filesystem is made: the init
      // mounts as the host's root, and the process runs as the pod's.
      if (strcmp(r->args[0], "user") == 0 && *r->args[1]) {
        userns = open(r->args[1], O_RDONLY | O_CLOEXEC);
        if (userns < 0) die("open user namespace %s", r->args[1]);
      }
      for (size_t k = 0; k < 3; k++) {
        if (strcmp(r->args[0], NS_NAMES[k][0]) != 0 || !*r->args[1]) continue;
        int fd = open(r->args[1], O_RDONLY | O_CLOEXEC);
        if (fd < 0) die("open namespace %s", r->args[1]);
        if (setns(fd, NS_FLAGS[k]) < 0) die("setns %s %s", NS_NAMES[k][1], r->args[1]);
        close(fd);
      }
    }
  }
  if (new_cgroupns && unshare(CLONE_NEWCGROUP) < 0) die("unshare cgroup namespace");

  int lastcap = cap_last_cap();
  int fifo = open(fifo_path, O_PATH | O_CLOEXEC);
  if (fifo < 0) die("open %s", fifo_path);

  rootfs_prepare(p);
  int slave = -1;
  if (console_fd >= 0) rootfs_console(p->rootfs, console_fd, &slave);
  rootfs_enter(p->rootfs, no_pivot);
  rootfs_finish(p);

  for (int i = 0; i < p->nrecs; i++) {
    struct rec *r = &p->recs[i];
    if (strcmp(r->op, "hostname") == 0 && sethostname(r->args[0], strlen(r->args[0])) < 0) die("sethostname %s", r->args[0]);
    if (strcmp(r->op, "domainname") == 0 && setdomainname(r->args[0], strlen(r->args[0])) < 0) die("setdomainname %s", r->args[0]);
  }
  // The pod's user namespace (pinned with its maps): from here on every capability is
  // one of that namespace, and process_setup's ids are its ids (uid 0 is the pod's root).
  // Then a mount namespace of its own, a copy of the one just made: the pod's root may
  // mount in it (with CAP_SYS_ADMIN), while every mount made above is locked (the kernel
  // locks mounts copied into a less privileged namespace): no unmounting a masked path,
  // no clearing ro, nosuid or nodev.
  if (userns >= 0) {
    if (setns(userns, CLONE_NEWUSER) < 0) die("setns user namespace");
    close(userns);
    if (unshare(CLONE_NEWNS) < 0) die("unshare a mount namespace in the user namespace");
  }
  struct proc_exec proc;
  process_setup(p, slave, lastcap, &proc);

  // create exits once it has READY: from here on the init outlives it.
  prctl(PR_SET_PDEATHSIG, 0);
  if (write_all(sync_fd, "R", 1) < 0) _exit(1);
  ready_sent = 1;
  close(sync_fd);

  // Blocks until `start` opens the fifo for reading. Reopening through /proc works
  // after the uid switch because the O_PATH fd was taken as root.
  char fifo_link[64];
  snprintf(fifo_link, sizeof fifo_link, "/proc/self/fd/%d", fifo);
  int wfd;
  do wfd = open(fifo_link, O_WRONLY | O_CLOEXEC); while (wfd < 0 && errno == EINTR);
  if (wfd < 0) die("open exec.fifo");
  if (write_all(wfd, "0", 1) < 0) die("write exec.fifo");
  close(wfd);
  close(fifo);

  process_exec(&proc);
}
