// User namespaces: a pod's, pinned with its network, IPC and UTS namespaces owned
// by it (`__userns-pin`, as cri-o's pinns), throwaway ones that only carry the id
// maps of an idmapped mount (mount_setattr MOUNT_ATTR_IDMAP), as runc makes them, and
// the probe of what a pod's root filesystem needs (`__userns-probe`).
#include "launcher.h"
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void sync_write(int fd, char c, const char *step) {
  if (write_all(fd, &c, 1) < 0) die("%s: sync write", step);
}

static void sync_read(int fd, char want, const char *step) {
  char c = 0;
  ssize_t n;
  do n = read(fd, &c, 1); while (n < 0 && errno == EINTR);
  if (n != 1) dief("%s: the other side of the sync socket is gone", step);
  if (c != want) dief("%s: unexpected sync byte", step);
}

// "0 100000 65536\n..." (the plan's and the daemon's form) into /proc/<pid>/<file>.
// Written by the parent, which is root in the user namespace above: privileged maps,
// so setgroups stays "allow" (runc writes "deny" only for rootless containers).
static void write_map(pid_t pid, const char *file, const char *map) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  if (write_file(path, map, strlen(map), 0) < 0) die("write %s (\"%s\")", path, map);
}

// A child in a new user namespace, waiting; the caller writes its maps. The child
// only waits for its parent to go or to kill it.
static pid_t userns_child(int *sock) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) die("user namespace: socketpair");
  pid_t pid = fork();
  if (pid < 0) die("user namespace: fork");
  if (pid == 0) {
    close(sv[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Its pid as /proc shows it: the init calling this is in a pid namespace of its
    // own, while /proc is still the host's.
    char msg[32] = "E";
    ssize_t n = 0;
    if (unshare(CLONE_NEWUSER) == 0 && (n = readlink("/proc/self", msg + 1, sizeof msg - 2)) > 0) msg[0] = 'U';
    msg[n > 0 ? n + 1 : 1] = 0;
    if (write_all(sv[1], msg, sizeof msg) < 0 || msg[0] == 'E') _exit(1);
    read(sv[1], msg, 1);
    _exit(0);
  }
  close(sv[1]);
  *sock = sv[0];
  return pid;
}

int userns_for_maps(const char *uid_map, const char *gid_map) {
  int sock;
  pid_t pid = userns_child(&sock);
  char msg[32] = { 0 };
  size_t got = 0;
  while (got < sizeof msg) {
    ssize_t n = read(sock, msg + got, sizeof msg - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  long long proc_pid = 0;
  msg[sizeof msg - 1] = 0;
  if (got != sizeof msg || msg[0] != 'U' || parse_i64(msg + 1, &proc_pid) < 0) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    dief("idmapped mount: the child could not unshare a user namespace");
  }
  write_map((pid_t)proc_pid, "uid_map", uid_map);
  write_map((pid_t)proc_pid, "gid_map", gid_map);
  char path[64];
  snprintf(path, sizeof path, "/proc/%lld/ns/user", proc_pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  int saved = errno;
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  close(sock);
  errno = saved;
  if (fd < 0) die("idmapped mount: open %s", path);
  return fd;
}

static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("loopback: socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("loopback: SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("loopback: SIOCSIFFLAGS");
  close(s);
}

// Made in the new user namespace; "user" itself is the namespace they are made in.
static const struct { const char *name; int flag; } PIN_KINDS[] = {
  { "user", 0 }, { "net", CLONE_NEWNET }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS },
};

static void pin_fatal(const char *msg) {
  dprintf(2, "cradle-runtime: pinning a pod's user namespace: %s\n", msg);
  exit(1);
}

// __userns-pin UID_MAP GID_MAP HOSTNAME KIND=PIN_FILE...
// A child unshares a user namespace; this process (root above it) writes its maps;
// the child then becomes root in it and unshares the other kinds, which the user
// namespace owns; each is bind-mounted on its (existing, empty) pin file.
void userns_pin_main(int argc, char **argv) {
  fatal_handler = pin_fatal;
  if (argc < 6) dief("usage: %s UID_MAP GID_MAP HOSTNAME KIND=FILE...", USERNS_PIN_ARG);
  const char *uid_map = argv[2], *gid_map = argv[3], *hostname = argv[4];
  int flags = 0;
  for (int i = 5; i < argc; i++) {
    int known = 0;
    for (size_t k = 0; k < sizeof PIN_KINDS / sizeof PIN_KINDS[0]; k++) {
      size_t n = strlen(PIN_KINDS[k].name);
      if (strncmp(argv[i], PIN_KINDS[k].name, n) == 0 && argv[i][n] == '=') { flags |= PIN_KINDS[k].flag; known = 1; }
    }
    if (!known) dief("unknown namespace kind in %s", argv[i]);
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) die("socketpair");
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(sv[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (unshare(CLONE_NEWUSER) < 0) die("unshare user namespace");
    sync_write(sv[1], 'U', "user namespace");
    sync_read(sv[1], 'M', "id maps");
    // Root of the new namespace, so the namespaces made next are usable from it.
    if (syscall(SYS_setresgid, 0, 0, 0) < 0) die("setresgid 0 in the user namespace");
    if (syscall(SYS_setresuid, 0, 0, 0) < 0) die("setresuid 0 in the user namespace");
    if (flags && unshare(flags) < 0) die("unshare the pod's namespaces in its user namespace");
    if ((flags & CLONE_NEWUTS) && *hostname && sethostname(hostname, strlen(hostname)) < 0) die("sethostname %s", hostname);
    if (flags & CLONE_NEWNET) loopback_up();
    sync_write(sv[1], 'N', "namespaces");
    char c;
    read(sv[1], &c, 1);
    _exit(0);
  }
  close(sv[1]);
  char c = 0;
  if (read(sv[0], &c, 1) != 1 || c != 'U') {
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    dief("the child could not create the user namespace (see above)");
  }
  write_map(pid, "gid_map", gid_map);
  write_map(pid, "uid_map", uid_map);
  sync_write(sv[0], 'M', "id maps written");
  if (read(sv[0], &c, 1) != 1 || c != 'N') {
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    dief("the child could not create the pod's namespaces (see above)");
  }
  for (int i = 5; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    *eq = 0;
    char ns[64];
    snprintf(ns, sizeof ns, "/proc/%d/ns/%s", (int)pid, argv[i]);
    if (mount(ns, eq + 1, NULL, MS_BIND, NULL) < 0) {
      int e = errno;
      kill(pid, SIGKILL);
      errno = e;
      die("bind %s on %s", ns, eq + 1);
    }
  }
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  exit(0);
}

static void probe_fatal(const char *msg) {
  dprintf(2, "%s\n", msg);
  exit(1);
}

static char *probe_dir;

static void probe_cleanup(void) {
  if (!probe_dir) return;
  // Out of the private namespace first: its scratch tmpfs goes with it.
  idmap_overlay_leave();
  static const char *const parts[] = { "a", "b", "u", "w/work", "w/index", "w", "t" };
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    char *p = xasprintf("%s/%s", probe_dir, parts[i]);
    rmdir(p);
    free(p);
  }
  rmdir(probe_dir);
}

// __userns-probe DIR: what a pod with its own user namespace needs of this kernel and
// of DIR's filesystem (where image layers live): a user namespace with maps, and the
// overlay a pod's root filesystem is, on two idmapped layers, made as for a pod
// (idmap_overlay_tree). The host's namespace never sees a mount; exit 0 when all of
// it works, else the failed step on stderr.
void userns_probe_main(int argc, char **argv) {
  fatal_handler = probe_fatal;
  if (argc != 3) dief("usage: %s DIR", USERNS_PROBE_ARG);
  probe_dir = xasprintf("%s/.cradle-userns-probe-XXXXXX", argv[2]);
  if (!mkdtemp(probe_dir)) {
    probe_dir = NULL;
    die("mkdtemp in %s", argv[2]);
  }
  atexit(probe_cleanup);
  int ns = userns_for_maps("0 100000 65536", "0 100000 65536");
  static const char *const dirs[] = { "a", "b", "u", "w", "t" };
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    char *d = xasprintf("%s/%s", probe_dir, dirs[i]);
    if (mkdir(d, 0700) < 0) die("mkdir %s", d);
    free(d);
  }
  char *lowers[] = { "a", "b" };
  char *upper = xasprintf("%s/u", probe_dir), *work = xasprintf("%s/w", probe_dir), *scratch = xasprintf("%s/t", probe_dir);
  int ov = idmap_overlay_tree(ns, scratch, probe_dir, lowers, 2, upper, work);
  close(ov);
  exit(0);
}
