// An overlay whose lower layers are idmapped mounts (a pod with its own user namespace),
// made the way every kernel since 5.19 takes it: overlayfs there only takes a lower
// that is a mount of the caller's namespace (detached ones only from 6.15), so, as
// containerd does, each idmapped clone of a layer is attached on a directory and the
// overlay mounted with lowerdir= those paths. All of that happens in a private mount
// namespace, on a tmpfs of its own: the host never sees a layer's clone, and when this
// process returns to the host's namespace that namespace dies with every mount in it,
// whatever step failed. overlayfs keeps private clones of its layers, so the overlay
// outlives them; a detached clone of it is what the caller attaches.
#include "launcher.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/** mount(2) copies at most one page of options, NUL included. */
#define OPTION_LIMIT 4095

static int host_mnt_ns = -1;

int idmap_overlay_leave(void) {
  if (host_mnt_ns < 0) return 0;
  int fd = host_mnt_ns;
  host_mnt_ns = -1;
  int rc = setns(fd, CLONE_NEWNS);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

int idmap_overlay_tree(int userns_fd, const char *scratch, const char *lower_root, char *const *lowers, int nlowers,
                       const char *upper, const char *work) {
  if (nlowers < 1) dief("idmapped overlay: no layers");
  // mount(2) options cannot quote these: refused rather than misparsed.
  if (strpbrk(upper, ",:") || strpbrk(work, ",:")) dief("idmapped overlay: upper %s or work %s has a ',' or ':'", upper, work);
  host_mnt_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (host_mnt_ns < 0) die("idmapped overlay: open /proc/self/ns/mnt");
  if (unshare(CLONE_NEWNS) < 0) die("idmapped overlay: unshare a private mount namespace");
  // Nothing mounted from here on propagates back to the host's mounts.
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("idmapped overlay: make the private namespace's mounts private");
  if (mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0) die("idmapped overlay: mount a scratch tmpfs on %s", scratch);
  if (chdir(scratch) < 0) die("idmapped overlay: chdir %s", scratch);
  // Opened here: open_tree clones only mounts of the caller's namespace.
  int root = open(lower_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) die("idmapped overlay: open the layer root %s", lower_root);
  // Lowers attached on short relative names ("0:1:..."): hundreds of layers fit in a page.
  size_t cap = (size_t)nlowers * 12 + strlen(upper) + strlen(work) + 64;
  char *opts = xmalloc(cap);
  size_t len = (size_t)snprintf(opts, cap, "lowerdir=");
  for (int i = 0; i < nlowers; i++) {
    char name[16];
    snprintf(name, sizeof name, "%d", i);
    if (mkdir(name, 0700) < 0) die("idmapped overlay: mkdir %s/%s", scratch, name);
    int tree = open_tree(root, lowers[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) die("idmapped overlay: open_tree %s/%s", lower_root, lowers[i]);
    struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd };
    if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) die("idmapped overlay: mount_setattr MOUNT_ATTR_IDMAP on %s/%s", lower_root, lowers[i]);
    if (move_mount(tree, "", AT_FDCWD, name, MOVE_MOUNT_F_EMPTY_PATH) < 0) die("idmapped overlay: attach the idmapped %s/%s", lower_root, lowers[i]);
    close(tree);
    len += (size_t)snprintf(opts + len, cap - len, "%s%s", i ? ":" : "", name);
  }
  close(root);
  len += (size_t)snprintf(opts + len, cap - len, ",upperdir=%s,workdir=%s", upper, work);
  if (len > OPTION_LIMIT) dief("idmapped overlay: options for %d layers are %zu bytes, more than mount(2) takes", nlowers, len);
  if (mkdir("o", 0700) < 0) die("idmapped overlay: mkdir %s/o", scratch);
  if (mount("overlay", "o", "overlay", 0, opts) < 0) die("idmapped overlay: mount overlayfs on the attached idmapped layers (%d)", nlowers);
  free(opts);
  int ov = open_tree(AT_FDCWD, "o", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (ov < 0) die("idmapped overlay: open_tree of the overlay");
  if (idmap_overlay_leave() < 0) die("idmapped overlay: return to the host's mount namespace");
  return ov;
}

static const char *overlay_target;

static void overlay_fatal(const char *msg) {
  dprintf(2, "cradle-runtime: mounting an overlay on idmapped layers at %s: %s\n", overlay_target ? overlay_target : "?", msg);
  exit(1);
}

// __idmap-overlay USERNS_FILE TARGET LOWER_ROOT UPPER WORK LOWER...
// Lowers relative to LOWER_ROOT, top-most first; TARGET an empty directory (the
// scratch tmpfs covers it in the private namespace only). On failure nothing is mounted.
void idmap_overlay_main(int argc, char **argv) {
  fatal_handler = overlay_fatal;
  if (argc < 8) dief("usage: %s USERNS_FILE TARGET LOWER_ROOT UPPER WORK LOWER...", IDMAP_OVERLAY_ARG);
  overlay_target = argv[3];
  int userns = open(argv[2], O_RDONLY | O_CLOEXEC);
  if (userns < 0) die("open the user namespace %s", argv[2]);
  int ov = idmap_overlay_tree(userns, argv[3], argv[4], argv + 7, argc - 7, argv[5], argv[6]);
  if (move_mount(ov, "", AT_FDCWD, argv[3], MOVE_MOUNT_F_EMPTY_PATH) < 0) die("move_mount the overlay onto %s", argv[3]);
  exit(0);
}
