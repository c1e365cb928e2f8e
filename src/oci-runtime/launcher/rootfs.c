// The root filesystem, run by the init in its new mount namespace (rootfs.ts in C).
// Every destination is resolved inside the root by the kernel (openat2
// RESOLVE_IN_ROOT, no magic links), then re-checked through /proc/self/fd, and the
// mount is made on that fd: a symlink in the image never redirects a mount to the host.
#include "launcher.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

static int rootfd = -1;
static void secure_join(const char *unsafe, char *out, size_t outlen, const char *what);
static const char *root_path;
static char exact_msg[4400];

static int open_in_root(const char *path, int flags) {
  struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .mode = 0, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  while (*path == '/') path++;
  return (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof how);
}

static int fd_path(int fd, char *out, size_t len) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, len - 1);
  if (n < 0) return -1;
  out[n] = 0;
  return 0;
}

static int within(const char *root, const char *p) {
  size_t n = strlen(root);
  return strncmp(root, p, n) == 0 && (p[n] == 0 || p[n] == '/');
}

// The O_PATH fd of dest, checked to be inside the root (the kernel resolved it there;
// this catches a rename race moving it out, as rootfs.ts openChecked does).
static int open_checked(const char *unsafe, const char *what, int exact) {
  char dest[4096];
  secure_join(unsafe, dest, sizeof dest, what);
  int fd = open_in_root(dest, O_PATH);
  if (fd < 0) die("%s: open %s in the root", what, dest);
  char real[4096];
  if (fd_path(fd, real, sizeof real) < 0) die("%s: readlink of %s", what, dest);
  if (!within(root_path, real)) dief("%s: mount destination %s resolves to %s, outside the rootfs", what, dest, real);
  if (exact) {
    // A symlinked /proc would move procfs elsewhere and let maskedPaths miss (CVE-2019-16884).
    char want[8192];
    snprintf(want, sizeof want, "%s%s", root_path, unsafe);
    if (strcmp(dest, unsafe) != 0 || strcmp(want, real) != 0) dief("%s", exact_msg);
  }
  return fd;
}

// securejoin semantics (secure-join.ts): symlinks in the image are followed, but
// absolute targets and ".." are clamped to the root. Returns the path inside the
// root ("/a/b"); the kernel then resolves it again with RESOLVE_IN_ROOT.
static void secure_join(const char *unsafe, char *out, size_t outlen, const char *what) {
  char rest[8192], resolved[4096] = "";
  snprintf(rest, sizeof rest, "%s", unsafe);
  int links = 0;
  for (;;) {
    char *p = rest;
    while (*p == '/') p++;
    if (!*p) break;
    size_t n = strcspn(p, "/");
    char part[256];
    if (n >= sizeof part) dief("%s: %s: a path component is too long", what, unsafe);
    memcpy(part, p, n);
    part[n] = 0;
    memmove(rest, p + n, strlen(p + n) + 1);
    if (strcmp(part, ".") == 0) continue;
    if (strcmp(part, "..") == 0) {
      char *slash = strrchr(resolved, '/');
      if (slash) *slash = 0;
      continue;
    }
    char candidate[8192], target[4096];
    snprintf(candidate, sizeof candidate, "%s%s/%s", root_path, resolved, part);
    struct stat st;
    if (lstat(candidate, &st) == 0 && S_ISLNK(st.st_mode)) {
      if (++links > 255) dief("%s: %s: too many levels of symbolic links", what, unsafe);
      ssize_t tl = readlink(candidate, target, sizeof target - 1);
      if (tl < 0) die("%s: readlink %s", what, candidate);
      target[tl] = 0;
      if (target[0] == '/') resolved[0] = 0;
      char joined[12300];
      snprintf(joined, sizeof joined, "%s/%s", target, rest);
      if (strlen(joined) >= sizeof rest) dief("%s: %s: path too long", what, unsafe);
      memcpy(rest, joined, strlen(joined) + 1);
      continue;
    }
    size_t rl = strlen(resolved);
    if (rl + 1 + n + 1 > sizeof resolved) dief("%s: %s: path too long", what, unsafe);
    snprintf(resolved + rl, sizeof resolved - rl, "/%s", part);
  }
  snprintf(out, outlen, "%s", resolved[0] ? resolved : "/");
}

// mkdir -p inside the root: the path is clamped first (secure_join), then each
// level is resolved by the kernel inside the root.
static void mkdir_in_root(const char *unsafe, const char *what) {
  char path[4096];
  secure_join(unsafe, path, sizeof path, what);
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  size_t len = strlen(buf);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    char saved = buf[i];
    buf[i] = 0;
    int fd = open_in_root(buf, O_PATH | O_DIRECTORY);
    if (fd >= 0) {
      close(fd);
    } else if (errno == ENOENT) {
      char *slash = strrchr(buf, '/');
      *slash = 0;
      int pfd = open_in_root(buf, O_PATH | O_DIRECTORY);
      if (pfd < 0) die("%s: mkdir %s: open parent", what, path);
      *slash = '/';
      if (mkdirat(pfd, slash + 1, 0777) < 0 && errno != EEXIST) die("%s: mkdir %s", what, buf);
      close(pfd);
      fd = open_in_root(buf, O_PATH | O_DIRECTORY);
      if (fd < 0) die("%s: mkdir %s", what, buf);
      close(fd);
    } else {
      die("%s: mkdir %s", what, buf);
    }
    buf[i] = saved;
  }
}

// The parent directory of dest inside the root (made when missing) and the last name.
static int open_parent(const char *dest, char *name, size_t len, const char *what) {
  char parent[4096];
  snprintf(parent, sizeof parent, "%s", dest);
  char *slash = strrchr(parent, '/');
  snprintf(name, len, "%s", slash + 1);
  if (slash == parent) slash[1] = 0;
  else *slash = 0;
  mkdir_in_root(parent, what);
  int pfd = open_in_root(parent, O_PATH | O_DIRECTORY);
  if (pfd < 0) die("%s: open %s", what, parent);
  return pfd;
}

static void fdpath(char *out, size_t len, int fd) {
  snprintf(out, len, "/proc/self/fd/%d", fd);
}

static void do_mount(char **a) {
  const char *dest = a[0], *source = a[1], *fstype = a[2], *data = a[4], *create = a[5], *prop = a[7];
  long long flags, remount;
  parse_i64(a[3], &flags);
  parse_i64(a[6], &remount);
  int exact = strcmp(a[8], "1") == 0;
  char what[4400];
  snprintf(what, sizeof what, "mounts: %s (%s from %s)", dest, *fstype ? fstype : "bind", source);
  snprintf(exact_msg, sizeof exact_msg, "mounts: %s: %s destination must not be a symlink", dest, fstype);
  if (exact) {
    char joined[4096];
    secure_join(dest, joined, sizeof joined, what);
    if (strcmp(joined, dest) != 0) dief("%s", exact_msg);
  }
  if (strcmp(create, "source") == 0) {
    struct stat st;
    if (stat(source, &st) < 0) die("%s: stat %s", what, source);
    if (S_ISDIR(st.st_mode)) {
      mkdir_in_root(dest, what);
    } else {
      char name[256], joined[4096];
      secure_join(dest, joined, sizeof joined, what);
      int pfd = open_parent(joined, name, sizeof name, what);
      int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) fd = openat(pfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
      if (fd < 0) die("%s: create %s", what, dest);
      close(fd);
      close(pfd);
    }
  } else {
    mkdir_in_root(dest, what);
  }
  int fd = open_checked(dest, what, exact);
  char target[64];
  fdpath(target, sizeof target, fd);
  if (mount(*source ? source : NULL, target, *fstype ? fstype : NULL, (unsigned long)flags, *data ? data : NULL) < 0) die("%s", what);
  close(fd);
  if (remount) {
    int fd2 = open_checked(dest, what, exact);
    fdpath(target, sizeof target, fd2);
    if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | (unsigned long)remount, NULL) < 0) die("%s: remount", what);
    close(fd2);
  }
  if (*prop) {
    int fd3 = open_checked(dest, what, exact);
    fdpath(target, sizeof target, fd3);
    for (const char *s = prop; *s;) {
      char *end;
      unsigned long p = strtoul(s, &end, 10);
      if (mount(NULL, target, NULL, p, NULL) < 0) die("%s: propagation", what);
      s = *end ? end + 1 : end;
    }
    close(fd3);
  }
}

// "rro": MS_REMOUNT|MS_RDONLY reaches only the top mount of a recursive bind; the
// mounts below it are made read-only with one mount_setattr(AT_RECURSIVE).
static void do_mount_rro(const char *dest) {
  char what[4200];
  snprintf(what, sizeof what, "mounts: %s (rro)", dest);
  int fd = open_checked(dest, what, 0);
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
  if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) die("%s: mount_setattr", what);
  close(fd);
}

// An idmapped mount (OCI 1.1 uidMappings/gidMappings): the bind at dest, made just
// before, is cloned (open_tree), the clone given the maps (mount_setattr
// MOUNT_ATTR_IDMAP with a user namespace holding them), the bind detached and the
// clone moved in its place. Its flags (ro, nosuid, ...) come with the clone.
static void do_mount_idmap(char **a) {
  const char *dest = a[0], *uid_map = a[1], *gid_map = a[2];
  int recursive = strcmp(a[3], "1") == 0;
  char what[4200];
  snprintf(what, sizeof what, "mounts: %s (idmap)", dest);
  static char *last_uid, *last_gid;
  static int last_fd = -1;
  if (last_fd < 0 || strcmp(last_uid, uid_map) != 0 || strcmp(last_gid, gid_map) != 0) {
    if (last_fd >= 0) close(last_fd);
    last_fd = userns_for_maps(uid_map, gid_map);
    last_uid = xstrdup(uid_map);
    last_gid = xstrdup(gid_map);
  }
  int fd = open_checked(dest, what, 0);
  unsigned rec = recursive ? AT_RECURSIVE : 0;
  int tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | rec);
  if (tree < 0) die("%s: open_tree", what);
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)last_fd };
  if (mount_setattr(tree, "", AT_EMPTY_PATH | rec, &attr, sizeof attr) < 0) die("%s: mount_setattr MOUNT_ATTR_IDMAP (does the source's filesystem support idmapped mounts?)", what);
  char target[64];
  fdpath(target, sizeof target, fd);
  if (umount2(target, MNT_DETACH) < 0) die("%s: detach the bind", what);
  close(fd);
  int under = open_checked(dest, what, 0);
  if (move_mount(tree, "", under, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) die("%s: move_mount", what);
  close(under);
  close(tree);
}

static void do_symlink(const char *target, const char *dest) {
  char name[256];
  int pfd = open_parent(dest, name, sizeof name, "symlink");
  if (symlinkat(target, pfd, name) < 0 && errno != EEXIST) die("symlink %s -> %s", dest, target);
  close(pfd);
}

static void do_device(char **a) {
  const char *dest = a[0];
  long long mode, major, minor, uid, gid;
  parse_i64(a[1], &mode);
  parse_i64(a[2], &major);
  parse_i64(a[3], &minor);
  parse_i64(a[4], &uid);
  parse_i64(a[5], &gid);
  char what[4200], name[256], real[4096], devdir[4200], joined[4096];
  snprintf(what, sizeof what, "linux.devices: %s", dest);
  secure_join(dest, joined, sizeof joined, what);
  int pfd = open_parent(joined, name, sizeof name, what);
  if (fd_path(pfd, real, sizeof real) < 0) die("%s: readlink", what);
  snprintf(devdir, sizeof devdir, "%s/dev", root_path);
  if (!within(devdir, real)) dief("%s resolves outside /dev", what);
  if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT) die("%s: remove", what);
  if (mknodat(pfd, name, (mode_t)mode, makedev((unsigned)major, (unsigned)minor)) < 0) die("%s: mknod", what);
  if ((uid != -1 || gid != -1) && fchownat(pfd, name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0) die("%s: chown", what);
  close(pfd);
}

static void dev_symlinks(void) {
  int dfd = open_checked("/dev", "/dev symlinks", 0);
  static const char *const links[][2] = {
    { "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" }, { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
  };
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
    if (symlinkat(links[i][0], dfd, links[i][1]) < 0 && errno != EEXIST) die("symlink /dev/%s", links[i][1]);
  }
  if (access("/proc/kcore", F_OK) == 0 && symlinkat("/proc/kcore", dfd, "core") < 0 && errno != EEXIST) die("symlink /dev/core");
  // /dev/ptmx must be the container's devpts instance, not the host's.
  if (unlinkat(dfd, "ptmx", 0) < 0 && errno != ENOENT) die("remove /dev/ptmx");
  if (symlinkat("pts/ptmx", dfd, "ptmx") < 0) die("symlink /dev/ptmx");
  close(dfd);
}

void rootfs_prepare(struct plan *p) {
  root_path = p->rootfs;
  long long prop = MS_REC | MS_SLAVE;
  for (int i = 0; i < p->nrecs; i++) {
    if (strcmp(p->recs[i].op, "root-propagation") == 0) parse_i64(p->recs[i].args[0], &prop);
  }
  if (mount(NULL, "/", NULL, (unsigned long)prop, NULL) < 0) die("rootfs propagation of /");
  // pivot_root refuses a new root whose parent mount is shared, and the bind below
  // would propagate to the host: that one mount becomes private (as runc).
  char mp[4096];
  int shared = 0;
  if (mount_containing(p->rootfs, mp, sizeof mp, &shared) == 0 && shared) {
    if (mount(NULL, mp, NULL, MS_PRIVATE, NULL) < 0) die("make %s private", mp);
  }
  if (mount(p->rootfs, p->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) die("bind mount of the rootfs %s", p->rootfs);
  rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) die("open rootfs %s", p->rootfs);
  mode_t old = 0;
  int umask_zero = 0;
  for (int i = 0; i < p->nrecs; i++) {
    struct rec *r = &p->recs[i];
    if (strcmp(r->op, "mount") == 0) do_mount(r->args);
    else if (strcmp(r->op, "mount-rro") == 0) do_mount_rro(r->args[0]);
    else if (strcmp(r->op, "mount-idmap") == 0) do_mount_idmap(r->args);
    else if (strcmp(r->op, "mkdir") == 0) mkdir_in_root(r->args[0], "mkdir");
    else if (strcmp(r->op, "symlink") == 0) do_symlink(r->args[0], r->args[1]);
    else if (strcmp(r->op, "device") == 0) {
      if (!umask_zero) { old = umask(0); umask_zero = 1; }
      do_device(r->args);
    } else if (strcmp(r->op, "dev-symlinks") == 0) dev_symlinks();
  }
  if (umask_zero) umask(old);
}

// The container's terminal: a pty of its own devpts, the slave bound on /dev/console,
// the master sent to the console socket (SCM_RIGHTS, as the Node init does).
void rootfs_console(const char *rootfs, int console_fd, int *slave_out) {
  (void)rootfs;
  int master = open_in_root("/dev/pts/ptmx", O_RDWR | O_NOCTTY);
  if (master < 0) die("console: open /dev/pts/ptmx");
  int unlock = 0, n = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) die("console: TIOCSPTLCK");
  if (ioctl(master, TIOCGPTN, &n) < 0) die("console: TIOCGPTN");
  char slave_path[64];
  snprintf(slave_path, sizeof slave_path, "/dev/pts/%d", n);
  int slave = open_in_root(slave_path, O_RDWR | O_NOCTTY);
  if (slave < 0) die("console: open %s", slave_path);
  int cfd = open_in_root("/dev/console", O_PATH);
  if (cfd < 0 && errno == ENOENT) {
    char name[256];
    int pfd = open_parent("/dev/console", name, sizeof name, "console");
    int f = openat(pfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f < 0) die("console: create /dev/console");
    close(f);
    close(pfd);
    cfd = open_checked("/dev/console", "console", 0);
  } else if (cfd < 0) {
    die("console: open /dev/console");
  }
  char src[64], dst[64];
  fdpath(src, sizeof src, slave);
  fdpath(dst, sizeof dst, cfd);
  if (mount(src, dst, NULL, MS_BIND, NULL) < 0) die("console: bind %s on /dev/console", slave_path);
  close(cfd);
  if (send_fd(console_fd, master) < 0) die("console: sendmsg to the console socket");
  close(master);
  close(console_fd);
  *slave_out = slave;
}

// pivot_root, or MS_MOVE + chroot with --no-pivot (rootfs.ts enterRoot).
void rootfs_enter(const char *rootfs, int no_pivot) {
  if (chdir(rootfs) < 0) die("chdir %s", rootfs);
  if (no_pivot) {
    if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0) die("move the rootfs to /");
    if (chroot(".") < 0) die("chroot");
  } else {
    // The old root through a directory fd: after pivot_root, "." names the new root
    // for mount(2); an rslave on it would make every container mount a host slave.
    int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (oldroot < 0) die("open the old root");
    if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root %s", rootfs);
    if (fchdir(oldroot) < 0) die("fchdir to the old root");
    // Detaching the old root must not unmount anything on the host.
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) die("make the old root rslave");
    if (umount2(".", MNT_DETACH) < 0) die("detach the old root");
    close(oldroot);
  }
  if (chdir("/") < 0) die("chdir /");
  if (rootfd >= 0) close(rootfd);
  rootfd = -1;
}

// runc's reOpenDevNull: stdio on a /dev/null (the monitor's, on the host's /dev) is
// replaced by the container's own /dev/null, so nothing the container holds lies
// outside its mount namespace (CRIU cannot dump such a file).
static void reopen_dev_null(void) {
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) die("reopen /dev/null: open the container's");
  struct stat st;
  if (fstat(null_fd, &st) < 0) die("reopen /dev/null: fstat the container's");
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) die("reopen /dev/null: the container's /dev/null is not the null device");
  for (int fd = 0; fd < 3; fd++) {
    if (fstat(fd, &st) < 0) {
      if (errno == EBADF) continue;
      die("reopen /dev/null: fstat fd %d", fd);
    }
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3) && dup3(null_fd, fd, 0) < 0) die("reopen /dev/null: dup3 onto fd %d", fd);
  }
  close(null_fd);
}

// After pivot_root: propagation of the new /, sysctls, readonly and masked paths,
// a read-only root (rootfs.ts finishRootfs).
void rootfs_finish(struct plan *p) {
  for (int i = 0; i < p->nrecs; i++) {
    struct rec *r = &p->recs[i];
    if (strcmp(r->op, "root-propagation") == 0) {
      long long after;
      parse_i64(r->args[1], &after);
      if (after && mount(NULL, "/", NULL, (unsigned long)after, NULL) < 0) die("rootfsPropagation of the new /");
    }
  }
  for (int i = 0; i < p->nrecs; i++) {
    struct rec *r = &p->recs[i];
    if (strcmp(r->op, "sysctl") == 0) {
      char file[4200];
      snprintf(file, sizeof file, "/proc/sys/%s", r->args[0]);
      for (char *c = file + 10; *c; c++) if (*c == '.') *c = '/';
      if (write_file(file, r->args[1], strlen(r->args[1]), O_TRUNC) < 0) die("linux.sysctl: %s=%s", r->args[0], r->args[1]);
    }
  }
  for (int i = 0; i < p->nrecs; i++) {
    struct rec *r = &p->recs[i];
    if (strcmp(r->op, "readonly-path") == 0) {
      const char *path = r->args[0];
      if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
        if (errno == ENOENT) continue;
        die("readonlyPaths: bind %s", path);
      }
      // As runc: only MS_RDONLY is added; the submount keeps procfs's own flags.
      if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL) < 0) die("readonlyPaths: remount %s read-only", path);
    }
  }
  for (int i = 0; i < p->nrecs; i++) {
    struct rec *r = &p->recs[i];
    if (strcmp(r->op, "masked-path") == 0) {
      const char *path = r->args[0];
      struct stat st;
      if (stat(path, &st) < 0) continue;
      if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) < 0) die("maskedPaths: %s", path);
      } else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) {
        die("maskedPaths: %s", path);
      }
    }
  }
  for (int i = 0; i < p->nrecs; i++) {
    if (strcmp(p->recs[i].op, "readonly-root") == 0 && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) die("remount / read-only");
  }
  for (int i = 0; i < p->nrecs; i++) {
    if (strcmp(p->recs[i].op, "reopen-dev-null") == 0) reopen_dev_null();
  }
}
