// The process records of a plan (create's init and exec alike): identity,
// capabilities, rlimits, seccomp, cwd and the executable, in the order of
// process-setup.ts and init.ts (runc's finalizeNamespace), then the final execve.
#include "launcher.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

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

// The AppArmor profile of the next execve, as runc's apparmor.ApplyProfile: "exec
// <profile>" in this thread's attr/apparmor/exec, or attr/exec on kernels without
// the per-LSM directory. /proc is the container's: this process is in its pid
// namespace (the init is its PID 1; an exec was forked after setns).
static void apply_apparmor(const char *profile) {
  const char *file = "/proc/thread-self/attr/apparmor/exec";
  if (access(file, F_OK) < 0) file = "/proc/thread-self/attr/exec";
  char *cmd = xasprintf("exec %s", profile);
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("apparmor: open %s", file);
  ssize_t n = write(fd, cmd, strlen(cmd));
  if (n < 0) die("apparmor: profile %s: write %s", profile, file);
  if ((size_t)n != strlen(cmd)) dief("apparmor: profile %s: short write to %s", profile, file);
  close(fd);
  free(cmd);
}

static void install_seccomp(struct plan *p) {
  struct sock_fprog prog = { .len = (unsigned short)(p->seccomp_len / 8), .filter = (struct sock_filter *)p->seccomp };
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) die("seccomp: SECCOMP_SET_MODE_FILTER");
}

// Session, terminal, rlimits, HOME, the executable lookup, bounding set, seccomp
// without no_new_privs, groups/gid/uid, capabilities, cwd (checked inside the root),
// umask, no_new_privs, the AppArmor profile of the execve. slave >= 0 becomes the controlling terminal and stdio.
void process_setup(struct plan *p, int slave, int lastcap, struct proc_exec *out) {
  const char *cwd = "/";
  unsigned long long bounding = 0, eff = 0, perm = 0, inh = 0;
  long long uid = 0, gid = 0, umask_v = 022;
  int nnp = 0, nenv = 0, nargs = 0, ngids = 0;
  for (int i = 0; i < p->nrecs; i++) {
    struct rec *r = &p->recs[i];
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

  out->executable = executable;
  out->argv = argv;
  out->env = env;
  // Last, as runc's setns init (after finalizeNamespace): the profile takes effect at
  // the execve. An init does it before READY, so create reports a failure.
  for (int i = 0; i < p->nrecs; i++) {
    if (strcmp(p->recs[i].op, "apparmor") == 0) apply_apparmor(p->recs[i].args[0]);
  }

  out->nnp = nnp;
  out->plan = p;
}

// The last steps: no inherited fd above stdio, default signals, seccomp with
// no_new_privs, execve.
void process_exec(struct proc_exec *pe) {
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
  if (pe->plan->seccomp && pe->nnp) install_seccomp(pe->plan);
  execve(pe->executable, pe->argv, pe->env);
  die("exec %s", pe->executable);
}
