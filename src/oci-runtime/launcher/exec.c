// `cradle-runtime exec --process FILE ID` with the exec plan TypeScript wrote beside
// FILE (exec-plan.ts): the process joins the container's cgroups and namespaces and
// is set up as create's init sets up its process, without Node. A plan for another
// container, root, process file or init (a restarted container, a reused pid) is
// never trusted: the Node CLI gets the same arguments (docs/launch-plan.md, "exec").
#include "launcher.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

static struct plan plan;
static int child_err = -1;
static volatile pid_t child_pid;

// Reported as the Node exec reports (main.ts): stderr and --log, exit 1.
static void exec_fatal(const char *msg) {
  const char *fields[] = { "command", "\"exec\"", NULL };
  log_line("error", msg, fields);
  dprintf(2, "cradle-runtime: %s\n", msg);
  exit(1);
}

// In the child, before execve: the message goes to the parent, which reports it.
static void child_fatal(const char *msg) {
  write_all(child_err, msg, strlen(msg));
  _exit(1);
}

static const struct { const char *name; int flag; } NAMESPACES[] = {
  { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET },
  { "cgroup", CLONE_NEWCGROUP }, { "pid", CLONE_NEWPID }, { "mnt", CLONE_NEWNS }, { "user", CLONE_NEWUSER },
};

static int ns_flag(const char *name) {
  for (size_t i = 0; i < sizeof NAMESPACES / sizeof NAMESPACES[0]; i++) {
    if (strcmp(NAMESPACES[i].name, name) == 0) return NAMESPACES[i].flag;
  }
  dief("exec plan: unknown namespace %s", name);
}

// Only what the plan describes runs natively; any other exec flag is the Node CLI's.
static int only_planned_flags(struct parsed *e) {
  static const char *const allowed[] = { "process", "p", "pid-file", "console-socket", "detach", "d", "tty", "t", NULL };
  for (int i = 0; i < e->nflags; i++) {
    int ok = 0;
    for (int k = 0; allowed[k]; k++) ok |= strcmp(allowed[k], e->flags[i].name) == 0;
    if (!ok) return 0;
  }
  return 1;
}

// The plan is for this command line and for the init that runs now.
static int plan_matches(const char *id, const char *root, const char *process_file) {
  if (strcmp(plan.id, id) != 0 || strcmp(plan.root, root) != 0) return 0;
  char *text, digest[65], start[32];
  size_t len;
  if (read_file(process_file, &text, &len) < 0) return 0;
  sha256_hex((unsigned char *)text, len, digest);
  free(text);
  if (strcmp(digest, plan.process_sha) != 0) return 0;
  char state = proc_stat((pid_t)plan.init_pid, start, sizeof start);
  return state && state != 'Z' && state != 'X' && strcmp(start, plan.init_start) == 0;
}

// openat2 below /proc/<init>/root: a symlink the container planted resolves inside it.
static int open_in_container(int rootfd, const char *path, int flags) {
  struct open_how how = { .flags = (unsigned long long)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

// A pty of the container's own devpts; the master goes to the console socket.
static int open_console(const char *console_socket) {
  char root[64];
  snprintf(root, sizeof root, "/proc/%lld/root", plan.init_pid);
  int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) die("console: open %s", root);
  int master = open_in_container(rootfd, "dev/pts/ptmx", O_RDWR | O_NOCTTY);
  if (master < 0) die("console: open /dev/pts/ptmx of the container");
  int unlock = 0, n = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) die("console: TIOCSPTLCK");
  if (ioctl(master, TIOCGPTN, &n) < 0) die("console: TIOCGPTN");
  for (int i = 0; i < plan.nrecs; i++) {
    if (strcmp(plan.recs[i].op, "console-size") != 0) continue;
    long long h, w;
    parse_i64(plan.recs[i].args[0], &h);
    parse_i64(plan.recs[i].args[1], &w);
    struct winsize ws = { .ws_row = (unsigned short)h, .ws_col = (unsigned short)w };
    if (ioctl(master, TIOCSWINSZ, &ws) < 0) die("console: TIOCSWINSZ");
  }
  char slave_path[64];
  snprintf(slave_path, sizeof slave_path, "dev/pts/%d", n);
  int slave = open_in_container(rootfd, slave_path, O_RDWR | O_NOCTTY);
  if (slave < 0) die("console: open /%s of the container", slave_path);
  close(rootfd);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) die("console socket");
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen(console_socket) >= sizeof addr.sun_path) dief("console socket path %s is too long", console_socket);
  strcpy(addr.sun_path, console_socket);
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect to the console socket %s", console_socket);
  if (send_fd(sock, master) < 0) die("console: sendmsg to the console socket");
  close(sock);
  close(master);
  return slave;
}

static void load_seccomp(void) {
  for (int i = 0; i < plan.nrecs; i++) {
    if (strcmp(plan.recs[i].op, "seccomp") != 0) continue;
    plan.seccomp = read_program(plan.recs[i].args[0], plan.recs[i].args[1], "seccomp", 0xffff, &plan.seccomp_len);
  }
}

// The forked process: cgroups, namespaces (the pid namespace was joined by the
// parent: it applies to children), then the process records.
static __attribute__((noreturn)) void child_main(int err_fd, int slave, int lastcap) {
  fatal_handler = child_fatal;
  child_err = err_fd;
  // Not ptrace-able nor readable through /proc by the container until execve.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) die("prctl PR_SET_DUMPABLE");
  for (int i = 0; i < plan.nrecs; i++) {
    struct rec *r = &plan.recs[i];
    if (strcmp(r->op, "join-cgroup") != 0) continue;
    // "0": the writer itself, a single-threaded process (cgroup v1 and v2 alike).
    char *f = xasprintf("%s/cgroup.procs", r->args[0]);
    if (write_file(f, "0", 1, 0) < 0) die("join cgroup %s", r->args[0]);
    free(f);
  }
  // Every namespace opened first: after the mount namespace, /proc is the container's
  // (the user namespace is joined after it).
  int fds[16], nfds = 0;
  for (int i = 0; i < plan.nrecs && nfds < 16; i++) {
    struct rec *r = &plan.recs[i];
    if (strcmp(r->op, "join-namespace") != 0 || strcmp(r->args[0], "pid") == 0) continue;
    fds[nfds] = open(r->args[1], O_RDONLY | O_CLOEXEC);
    if (fds[nfds] < 0) die("open namespace %s", r->args[1]);
    nfds++;
  }
  for (int i = 0, k = 0; i < plan.nrecs && k < nfds; i++) {
    struct rec *r = &plan.recs[i];
    if (strcmp(r->op, "join-namespace") != 0 || strcmp(r->args[0], "pid") == 0) continue;
    if (setns(fds[k], ns_flag(r->args[0])) < 0) die("setns %s %s", r->args[0], r->args[1]);
    close(fds[k++]);
  }
  struct proc_exec pe;
  process_setup(&plan, slave, lastcap, &pe);
  process_exec(&pe);
}

static void forward(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

static __attribute__((noreturn)) void run(const char *pid_file, int detach, const char *console_socket) {
  load_seccomp();
  int lastcap = cap_last_cap();
  int slave = plan.terminal ? open_console(console_socket) : -1;
  for (int i = 0; i < plan.nrecs; i++) {
    struct rec *r = &plan.recs[i];
    if (strcmp(r->op, "join-namespace") != 0 || strcmp(r->args[0], "pid") != 0) continue;
    int fd = open(r->args[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open namespace %s", r->args[1]);
    if (setns(fd, CLONE_NEWPID) < 0) die("setns pid %s", r->args[1]);
    close(fd);
  }
  int errp[2];
  if (pipe2(errp, O_CLOEXEC) < 0) die("pipe");
  // Forwarded from here on, so a signal never hits the window before the pid is known.
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(errp[0]);
    sigprocmask(SIG_SETMASK, &old, NULL);
    child_main(errp[1], slave, lastcap);
  }
  child_pid = pid;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sa.sa_flags = SA_RESTART;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD) continue;
    sigaction(sig, &sa, NULL);
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(errp[1]);
  if (slave >= 0) close(slave);
  // EOF: execve succeeded (the pipe is close-on-exec); data: the child's error.
  char msg[4096];
  size_t got = 0;
  for (;;) {
    ssize_t n = read(errp[0], msg + got, sizeof msg - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
    if (got == sizeof msg - 1) break;
  }
  close(errp[0]);
  int status;
  if (got > 0) {
    msg[got] = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    dief("%s", msg);
  }
  if (pid_file) {
    char *pf = resolve_path(pid_file);
    char v[32];
    int n = snprintf(v, sizeof v, "%d", (int)pid);
    if (replace_file(pf, v, (size_t)n, 0644) < 0) die("write %s", pf);
  }
  if (detach) exit(0);
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) die("wait for %d", (int)pid);
  }
  // As the Node exec: the exit code, or 128 + the signal that ended the process.
  exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

// CVE-2019-5736: the process joins the container running this binary until its
// execve. It is sealed (init.c seal_binary) in a mount namespace of our own and
// re-executed through the read-only mount; that namespace is left right after, so
// nothing of the host's mount table stays pinned while the process runs.
static __attribute__((noreturn)) void seal_and_reexec(int argc, char **argv) {
  int host_mnt = open("/proc/self/ns/mnt", O_RDONLY);
  if (host_mnt < 0) die("open /proc/self/ns/mnt");
  if (unshare(CLONE_NEWNS) < 0) die("seal: unshare the mount namespace");
  const char *exe = seal_binary();
  char fd[16];
  snprintf(fd, sizeof fd, "%d", host_mnt);
  if (setenv("_CRADLE_EXEC_HOST_MNT", fd, 1) < 0) die("setenv");
  char **args = xmalloc(sizeof(char *) * (size_t)(argc + 2));
  args[0] = argv[0];
  args[1] = EXEC_ARG;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  args[argc + 1] = NULL;
  execve(exe, args, environ);
  die("exec %s", exe);
}

static void return_to_host_mounts(void) {
  const char *v = getenv("_CRADLE_EXEC_HOST_MNT");
  long long fd;
  if (!v || parse_i64(v, &fd) < 0) dief("exec: the sealed launcher lost its mount namespace");
  unsetenv("_CRADLE_EXEC_HOST_MNT");
  int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0) die("open .");
  if (setns((int)fd, CLONE_NEWNS) < 0) die("setns back to the host mount namespace");
  if (fchdir(cwd) < 0) die("fchdir");
  close((int)fd);
  close(cwd);
}

void exec_main(int argc, char **argv, int sealed) {
  fatal_handler = exec_fatal;
  if (sealed) return_to_host_mounts();
  struct parsed g, e;
  parse_flags(argc, argv, 1, GLOBAL_VALUE_FLAGS, 1, &g);
  // --systemd-cgroup changes nothing for exec: it joins the container's cgroup, wherever systemd put it.
  if (bool_flag(&g, "version", "v") || bool_flag(&g, "help", "h")) exec_node();
  const char *log_format = str_flag(&g, "log-format", NULL);
  if (log_format && strcmp(log_format, "text") != 0 && strcmp(log_format, "json") != 0) exec_node();
  static const char *const exec_values[] = { "process", "p", "pid-file", "console-socket", "cwd", "env", "e", "user", "u", "cap", "c",
                                             "preserve-fds", "process-label", "apparmor", "cgroup", NULL };
  parse_flags(argc, argv, g.rest + 1, exec_values, 1, &e);
  const char *process = str_flag(&e, "process", "p");
  // Exactly: flags the plan describes, then the id (a command after it is the Node CLI's).
  if (!process || !only_planned_flags(&e) || e.rest + 1 != argc || !*argv[e.rest]) exec_node();
  const char *id = argv[e.rest];
  char *process_file = resolve_path(process);
  char *plan_path = xstrdup(process_file);
  *strrchr(plan_path, '/') = 0;
  plan_path = xasprintf("%s/%s", *plan_path ? plan_path : "", EXEC_PLAN_FILE);
  char *buf, why[256];
  size_t len;
  if (read_file(plan_path, &buf, &len) < 0) exec_node();
  int rc = plan_parse(&plan, EXEC_PLAN_VERSION, buf, len, why, sizeof why);
  if (rc == PLAN_OTHER_VERSION) exec_node();
  const char *root_flag = str_flag(&g, "root", NULL);
  char *root = resolve_path(root_flag ? root_flag : "/run/cradle-runtime");
  if (rc == PLAN_OK && !plan_matches(id, root, process_file)) exec_node();
  int tty = bool_flag(&e, "tty", "t");
  // The Node exec makes a --tty exec of a process without terminal a terminal one.
  if (rc == PLAN_OK && tty && !plan.terminal) exec_node();
  log_open(str_flag(&g, "log", NULL), log_format && strcmp(log_format, "json") == 0, bool_flag(&g, "debug", NULL));
  if (rc != PLAN_OK) dief("invalid exec plan %s: %s", plan_path, why);
  const char *console_socket = str_flag(&e, "console-socket", NULL);
  if (plan.terminal && !console_socket) dief("exec: a terminal needs --console-socket");
  if (!plan.terminal && console_socket) dief("exec: --console-socket given without --tty");
  if (!sealed) seal_and_reexec(argc, argv);
  run(str_flag(&e, "pid-file", NULL), bool_flag(&e, "detach", "d"), console_socket);
}
