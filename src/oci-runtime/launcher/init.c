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
void init_reexec(int sync_fd, int console_fd, const char *fifo_path, int no_pivot) {
  fatal_handler = init_fatal;
  init_sync = sync_fd;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  char exe[4096], mp[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) die("readlink /proc/self/exe");
  exe[n] = 0;
  int shared = 0;
  if (mount_containing(exe, mp, sizeof mp, &shared) == 0 && mount(NULL, mp, NULL, MS_SLAVE, NULL) < 0) die("seal: make %s a slave", mp);
  if (mount(exe, exe, NULL, MS_BIND, NULL) < 0) die("seal: bind %s", exe);
  if (mount(NULL, exe, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) die("seal: remount %s read-only", exe);
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

static char *home_of(unsigned uid) {
  char *text;
  size_t len;
  if (read_file("/etc/passwd", &text, &len) < 0) return xstrdup("/");
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *f[7] = { 0 };
    int nf = 0;
    char *p = line;
    f[nf++] = p;
    for (; *p && nf < 7; p++) {
      if (*p == ':') { *p = 0; f[nf++] = p + 1; }
    }
    if (nf < 6) continue;
    long long u;
    if (parse_i64(f[2], &u) == 0 && u == (long long)uid) {
      char *home = xstrdup(*f[5] ? f[5] : "/");
      free(text);
      return home;
    }
  }
  free(text);
  return xstrdup("/");
}

static int is_executable(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

// exec.LookPath in the new root, as process-setup.ts lookPath.
static char *look_path(const char *file, char **env) {
  char q[4200];
  json_escape(q, sizeof q, file);
  if (strchr(file, '/')) {
    if (!is_executable(file)) dief("exec: %s: no such executable file", q);
    return xstrdup(file);
  }
  const char *pathvar = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (char **e = env; *e; e++) {
    if (strncmp(*e, "PATH=", 5) == 0) pathvar = *e + 5;
  }
  char *copy = xstrdup(pathvar);
  for (char *s = copy, *dir; (dir = strsep(&s, ":")) != NULL;) {
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dir[--dl] = 0;
    char *cand = xasprintf("%s/%s", *dir ? dir : ".", file);
    if (is_executable(cand)) return cand;
    free(cand);
  }
  dief("exec: %s: executable file not found in $PATH", q);
}

static void install_seccomp(struct plan *p) {
  struct sock_fprog prog = { .len = (unsigned short)(p->seccomp_len / 8), .filter = (struct sock_filter *)p->seccomp };
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) die("seccomp: SECCOMP_SET_MODE_FILTER");
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
  if (plan_parse(p, plan_buf, plan_len, why, sizeof why) != PLAN_OK) dief("launch plan: %s", why);
  p->seccomp = seccomp;
  p->seccomp_len = seccomp_len;

  // In the container's cgroups before a new cgroup ns, so its cgroup is the ns root.
  // "0" to tasks moves only this (single) thread, without the threadgroup lock that
  // a cgroup.procs write takes.
  int new_cgroupns = 0;
  for (int i = 0; i < p->nrecs; i++) {
    struct rec *r = &p->recs[i];
    if (strcmp(r->op, "cgroup") == 0) {
      char *f = xasprintf("%s/tasks", r->args[1]);
      if (write_file(f, "0", 1, 0) < 0) die("join cgroup %s", r->args[1]);
      free(f);
    } else if (strcmp(r->op, "namespace") == 0) {
      if (strcmp(r->args[0], "cgroup") == 0 && !*r->args[1]) new_cgroupns = 1;
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

  char *lastcap_text;
  size_t len;
  if (read_file("/proc/sys/kernel/cap_last_cap", &lastcap_text, &len) < 0) die("read /proc/sys/kernel/cap_last_cap");
  int lastcap = atoi(lastcap_text);
  int fifo = open(fifo_path, O_PATH | O_CLOEXEC);
  if (fifo < 0) die("open %s", fifo_path);

  rootfs_prepare(p);
  int slave = -1;
  if (console_fd >= 0) rootfs_console(p->rootfs, console_fd, &slave);
  rootfs_enter(p->rootfs, no_pivot);
  rootfs_finish(p);

  // Gather the process records.
  const char *cwd = "/";
  unsigned long long bounding = 0, eff = 0, perm = 0, inh = 0;
  long long uid = 0, gid = 0, umask_v = 022;
  int nnp = 0, nenv = 0, nargs = 0, ngids = 0;
  for (int i = 0; i < p->nrecs; i++) {
    struct rec *r = &p->recs[i];
    if (strcmp(r->op, "hostname") == 0 && sethostname(r->args[0], strlen(r->args[0])) < 0) die("sethostname %s", r->args[0]);
    if (strcmp(r->op, "domainname") == 0 && setdomainname(r->args[0], strlen(r->args[0])) < 0) die("setdomainname %s", r->args[0]);
    if (strcmp(r->op, "env") == 0) nenv++;
    if (strcmp(r->op, "arg") == 0) nargs++;
    if (strcmp(r->op, "additional-gid") == 0) ngids++;
  }
  char **env = xmalloc(sizeof(char *) * (size_t)(nenv + 2));
  char **argv = xmalloc(sizeof(char *) * (size_t)(nargs + 1));
  gid_t *gids = xmalloc(sizeof(gid_t) * (size_t)(ngids + 1));
  int ie = 0, ia = 0, ig = 0, has_home = 0;
  for (int i = 0; i < p->nrecs; i++) {
    struct rec *r = &p->recs[i];
    if (strcmp(r->op, "env") == 0) {
      if (strncmp(r->args[0], "HOME=", 5) == 0) has_home = 1;
      env[ie++] = r->args[0];
    } else if (strcmp(r->op, "arg") == 0) argv[ia++] = r->args[0];
    else if (strcmp(r->op, "additional-gid") == 0) {
      long long g;
      parse_i64(r->args[0], &g);
      gids[ig++] = (gid_t)g;
    } else if (strcmp(r->op, "user") == 0) {
      parse_i64(r->args[0], &uid);
      parse_i64(r->args[1], &gid);
      parse_i64(r->args[2], &umask_v);
    } else if (strcmp(r->op, "caps") == 0) {
      parse_u64(r->args[0], &bounding);
      parse_u64(r->args[1], &eff);
      parse_u64(r->args[2], &perm);
      parse_u64(r->args[3], &inh);
    } else if (strcmp(r->op, "no-new-privileges") == 0) nnp = 1;
    else if (strcmp(r->op, "cwd") == 0) cwd = r->args[0];
  }
  if (ia == 0) dief("process.args is empty");

  if (setsid() < 0) die("setsid");
  if (slave >= 0) {
    if (ioctl(slave, TIOCSCTTY, 0) < 0) die("console: TIOCSCTTY");
    for (int fd = 0; fd < 3; fd++) if (dup2(slave, fd) < 0) die("console: dup2");
    close(slave);
  }
  for (int i = 0; i < p->nrecs; i++) {
    struct rec *r = &p->recs[i];
    if (strcmp(r->op, "rlimit") != 0) continue;
    long long res;
    unsigned long long soft, hard;
    parse_i64(r->args[0], &res);
    parse_u64(r->args[1], &soft);
    parse_u64(r->args[2], &hard);
    struct rlimit rl = { .rlim_cur = soft, .rlim_max = hard };
    if (prlimit(0, (int)res, &rl, NULL) < 0) {
      int e = errno;
      dief("process.rlimits: %s soft=%s hard=%s: %s%s", r->args[3], r->args[1], r->args[2], strerror(e),
           e == EPERM ? " (raising a hard limit needs CAP_SYS_RESOURCE, which this host does not grant)" : "");
    }
  }
  if (!has_home) env[ie++] = xasprintf("HOME=%s", home_of((unsigned)uid));
  env[ie] = NULL;
  argv[ia] = NULL;
  char *executable = look_path(argv[0], env);

  for (int bit = 0; bit <= lastcap; bit++) {
    if (!(bounding & (1ULL << bit)) && prctl(PR_CAPBSET_DROP, bit, 0, 0, 0) < 0) die("prctl PR_CAPBSET_DROP %d", bit);
  }
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we have it.
  if (p->seccomp && !nnp) install_seccomp(p);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) die("prctl PR_SET_KEEPCAPS");
  if (syscall(SYS_setgroups, ig, gids) < 0) die("setgroups");
  if (syscall(SYS_setresgid, gid, gid, gid) < 0) die("setresgid %lld", gid);
  if (syscall(SYS_setresuid, uid, uid, uid) < 0) die("setresuid %lld", uid);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) die("prctl PR_SET_KEEPCAPS");
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2] = {
    { .effective = (uint32_t)eff, .permitted = (uint32_t)perm, .inheritable = (uint32_t)inh },
    { .effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(perm >> 32), .inheritable = (uint32_t)(inh >> 32) },
  };
  if (syscall(SYS_capset, &hdr, data) < 0) die("capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) die("prctl PR_CAP_AMBIENT_CLEAR_ALL");
  for (int i = 0; i < p->nrecs; i++) {
    if (strcmp(p->recs[i].op, "ambient") != 0) continue;
    long long bit;
    parse_i64(p->recs[i].args[0], &bit);
    // runc ignores ambient caps that are not also permitted and inheritable.
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)bit, 0, 0);
  }
  if (chdir(cwd) < 0) die("process.cwd %s", cwd);
  // CVE-2024-21626: a cwd reached through a leaked host fd lies outside the root;
  // getcwd() then fails (glibc turns "(unreachable)" into ENOENT).
  char now[4096];
  if (!getcwd(now, sizeof now) || now[0] != '/') dief("process.cwd %s is outside the container's root", cwd);
  umask((mode_t)umask_v);
  if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("prctl PR_SET_NO_NEW_PRIVS");

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

  // Nothing inherited above stdio may reach the container; stdio itself must.
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) die("close_range");
  for (int fd = 0; fd < 3; fd++) {
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0 && (fl & FD_CLOEXEC)) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
  }
  // Ignored dispositions and a blocked mask would survive execve.
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &sa, NULL);
  }
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, NULL);
  if (p->seccomp && nnp) install_seccomp(p);
  execve(executable, argv, env);
  die("exec %s", executable);
}
