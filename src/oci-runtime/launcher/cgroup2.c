// cgroup v2 for create: the container's cgroup with its ancestors delegating every
// available controller (CgroupV2.create), and the device rules' eBPF program loaded
// and attached to it (CgroupV2.set, sys/bpf.ts). The program itself is TypeScript's
// (device-filter.ts); the launcher only checks its digest.
#include "launcher.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// Enables in <dir>/cgroup.subtree_control each controller of <dir>/cgroup.controllers
// not enabled yet, in one write (as CgroupV2.create).
static void delegate(const char *dir) {
  char *avail_file = xasprintf("%s/cgroup.controllers", dir), *enabled_file = xasprintf("%s/cgroup.subtree_control", dir);
  char *avail = NULL, *enabled = NULL;
  size_t len;
  if (read_file(avail_file, &avail, &len) < 0) avail = xstrdup("");
  if (read_file(enabled_file, &enabled, &len) < 0) enabled = xstrdup("");
  char *want = xmalloc(strlen(avail) * 2 + 2);
  size_t n = 0;
  char *save = NULL;
  for (char *c = strtok_r(avail, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
    int on = 0;
    char *copy = xstrdup(enabled), *s2 = NULL;
    for (char *e = strtok_r(copy, " \n", &s2); e && !on; e = strtok_r(NULL, " \n", &s2)) on = strcmp(e, c) == 0;
    free(copy);
    if (on) continue;
    n += (size_t)sprintf(want + n, "%s+%s", n ? " " : "", c);
  }
  if (n > 0 && write_file(enabled_file, want, n, 0) < 0) die("writing \"%s\" to %s", want, enabled_file);
  free(want);
  free(avail);
  free(enabled);
  free(avail_file);
  free(enabled_file);
}

void cgroup2_create(const char *mount, const char *dir) {
  size_t ml = strlen(mount);
  if (strncmp(dir, mount, ml) != 0 || (dir[ml] != '/' && dir[ml] != 0)) dief("cgroup %s is not below %s", dir, mount);
  char cur[PATH_MAX];
  snprintf(cur, sizeof cur, "%s", dir);
  // Each level below the mount, top down: the parent delegates, then the level is made.
  for (size_t i = ml + 1; i <= strlen(dir); i++) {
    if (dir[i] != '/' && dir[i] != 0) continue;
    char saved = cur[i];
    cur[i] = 0;
    char *slash = strrchr(cur, '/');
    *slash = 0;
    delegate(*cur ? cur : "/");
    *slash = '/';
    if (mkdir(cur, 0755) < 0 && errno != EEXIST) die("mkdir cgroup %s", cur);
    cur[i] = saved;
  }
}

static long bpf(int cmd, union bpf_attr *attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

void cgroup2_attach_devices(const char *dir, const char *program_file, const char *sha256) {
  size_t len;
  unsigned char *prog = read_program(program_file, sha256, "device", 1000000, &len);
  static char log[65536];
  static const char license[] = "Apache";
  union bpf_attr load;
  memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insn_cnt = (unsigned)(len / 8);
  load.insns = (uint64_t)(uintptr_t)prog;
  load.license = (uint64_t)(uintptr_t)license;
  load.log_level = 1;
  load.log_size = sizeof log;
  load.log_buf = (uint64_t)(uintptr_t)log;
  int prog_fd = (int)bpf(BPF_PROG_LOAD, &load);
  if (prog_fd < 0) {
    int e = errno;
    dief("BPF_PROG_LOAD device program: %s%s%.200s", strerror(e), *log ? ": " : "", log);
  }
  int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) die("open cgroup %s", dir);
  union bpf_attr attach;
  memset(&attach, 0, sizeof attach);
  attach.target_fd = (unsigned)dir_fd;
  attach.attach_bpf_fd = (unsigned)prog_fd;
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, &attach) < 0) die("BPF_PROG_ATTACH %s", dir);
  close(dir_fd);
  close(prog_fd);
  free(prog);
}
