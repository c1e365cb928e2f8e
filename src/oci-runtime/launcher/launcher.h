// The native launcher of cradle-runtime (docs/launch-plan.md): executes a launch
// plan written by TypeScript, so a `create` needs no Node process.
#ifndef CRADLE_LAUNCHER_H
#define CRADLE_LAUNCHER_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <sys/types.h>

#define PLAN_FILE "cradle-launch.plan"
#define PLAN_VERSION "cradle-plan-v1"
#define EXEC_PLAN_FILE "cradle-exec.plan"
#define EXEC_PLAN_VERSION "cradle-exec-v1"

struct rec {
  const char *op;
  char **args;
  int nargs;
};

struct plan {
  char *buf;
  size_t len;
  struct rec *recs;
  int nrecs;
  const char *version;
  // create: id, config_sha, bundle, rootfs, state_rest; exec: id, root, process_sha, init_*.
  const char *id, *config_sha, *bundle, *rootfs, *state_rest;
  const char *root, *process_sha, *init_start;
  long long init_pid;
  int terminal;
  int has_oom;
  long oom;
  unsigned char *seccomp;
  size_t seccomp_len;
};

enum plan_result { PLAN_OK = 0, PLAN_OTHER_VERSION = 1, PLAN_INVALID = 2 };

// plan.c
// version: PLAN_VERSION or EXEC_PLAN_VERSION, which also selects the header records required.
int plan_parse(struct plan *p, const char *version, char *buf, size_t len, char *why, size_t whylen);
int parse_i64(const char *s, long long *out);
int parse_u64(const char *s, unsigned long long *out);

// sha256.c
void sha256_hex(const unsigned char *data, size_t len, char out[65]);

// log.c
void log_open(const char *file, int json, int debug);
void log_line(const char *level, const char *msg, const char *const *fields);
int log_debug_enabled(void);
size_t json_escape(char *out, size_t outlen, const char *s);
void iso_now(char *out, size_t len);

// util.c: errors. die() appends ": strerror(errno)"; dief() does not. Both call the
// fatal handler of the current side (parent or init), which never returns.
extern void (*fatal_handler)(const char *msg);
__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void dief(const char *fmt, ...);
int read_file(const char *path, char **out, size_t *len);
int write_file(const char *path, const char *data, size_t len, int flags);
int replace_file(const char *path, const void *data, size_t len, mode_t mode);
char *xstrdup(const char *s);
void *xmalloc(size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int write_all(int fd, const void *buf, size_t len);
unsigned char *read_program(const char *path, const char *sha256, const char *what, size_t max_insns, size_t *len);

// mountinfo: the mount point of the mount holding path, and whether it is shared.
int mount_containing(const char *path, char *mountpoint, size_t len, int *shared);

// init.c: the clone seals the binary and re-executes it as INIT_ARG.
#define INIT_ARG "__native-init"
// CVE-2019-5736: binds the launcher binary read-only onto itself in this process's
// own mount namespace; returns its path, to be execve()d through that mount.
const char *seal_binary(void);
__attribute__((noreturn)) void init_reexec(int sync_fd, int console_fd, const char *fifo_path, int no_pivot);
__attribute__((noreturn)) void init_main(int argc, char **argv);

// cgroup2.c: create's cgroup v2 (delegation, mkdir) and its device program.
void cgroup2_create(const char *mount, const char *dir);
void cgroup2_attach_devices(const char *dir, const char *program_file, const char *sha256);

// systemd.c: the systemd driver's scope (a `systemd-scope` record): load checks the
// marshalled calls before anything is made; start makes the scope around the init and
// waits until the init is in it; set_limits gives systemd the limits it manages; stop
// undoes the scope (0, or -1 with the reason in err).
void systemd_scope_load(const struct rec *r);
void systemd_scope_start(pid_t pid);
void systemd_scope_set_limits(void);
int systemd_scope_stop(char *err, size_t errlen);

// rootfs.c
void rootfs_prepare(struct plan *p);
void rootfs_console(const char *rootfs, int console_fd, int *slave_out);
void rootfs_enter(const char *rootfs, int no_pivot);
void rootfs_finish(struct plan *p);

// process.c: the process records, shared by the init and exec.
struct proc_exec {
  struct plan *plan;
  char *executable;
  char **argv, **env;
  int nnp;
};
void process_setup(struct plan *p, int slave, int lastcap, struct proc_exec *out);
__attribute__((noreturn)) void process_exec(struct proc_exec *pe);
int cap_last_cap(void);
char proc_stat(pid_t pid, char *start, size_t len);
int send_fd(int sock, int fd);

// main.c: the command line, as main.ts parses it.
struct flag { const char *name; const char *value; };
struct parsed { struct flag flags[64]; int nflags; const char *pos[8]; int npos; int rest; };
void parse_flags(int argc, char **argv, int start, const char *const *value_flags, int stop_at_positional, struct parsed *out);
const char *str_flag(struct parsed *p, const char *a, const char *b);
int bool_flag(struct parsed *p, const char *a, const char *b);
char *resolve_path(const char *p);
__attribute__((noreturn)) void exec_node(void);
extern const char *const GLOBAL_VALUE_FLAGS[];

// userns.c: a pod's pinned user namespace (run by the daemon) and the throwaway user
// namespace carrying an idmapped mount's maps ("c h s" lines).
#define USERNS_PIN_ARG "__userns-pin"
#define USERNS_PROBE_ARG "__userns-probe"
__attribute__((noreturn)) void userns_pin_main(int argc, char **argv);
__attribute__((noreturn)) void userns_probe_main(int argc, char **argv);
int userns_for_maps(const char *uid_map, const char *gid_map);

// idmap-overlay.c: an overlay on idmapped layers attached in a private mount namespace
// (scratch: a directory its tmpfs covers there); returns a detached clone of the overlay,
// the caller back in its own mount namespace. idmap_overlay_leave returns there early.
#define IDMAP_OVERLAY_ARG "__idmap-overlay"
int idmap_overlay_tree(int userns_fd, const char *scratch, const char *lower_root, char *const *lowers, int nlowers,
                       const char *upper, const char *work);
int idmap_overlay_leave(void);
__attribute__((noreturn)) void idmap_overlay_main(int argc, char **argv);

// exec.c: `exec --process FILE` with a matching exec plan beside FILE.
#define EXEC_ARG "__native-exec"
__attribute__((noreturn)) void exec_main(int argc, char **argv, int sealed);

#endif
