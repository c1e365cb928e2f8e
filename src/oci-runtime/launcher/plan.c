// The launch plan parser: NUL-terminated strings, an op then its fixed arguments.
#include "launcher.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *op; int nargs; } OPS[] = {
  { "id", 1 }, { "config-sha256", 1 }, { "bundle", 1 }, { "rootfs", 1 }, { "state", 1 },
  { "namespace", 2 }, { "cgroup", 3 }, { "cgroup-write", 3 }, { "oom-score-adj", 1 }, { "terminal", 1 },
  { "root-propagation", 2 }, { "mount", 9 }, { "mount-rro", 1 }, { "mkdir", 1 }, { "symlink", 2 }, { "device", 6 }, { "dev-symlinks", 0 },
  { "sysctl", 2 }, { "readonly-path", 1 }, { "masked-path", 1 }, { "readonly-root", 0 }, { "hostname", 1 },
  { "domainname", 1 }, { "rlimit", 4 }, { "user", 3 }, { "additional-gid", 1 }, { "caps", 4 }, { "ambient", 1 },
  { "no-new-privileges", 0 }, { "seccomp", 2 }, { "apparmor", 1 }, { "cwd", 1 }, { "env", 1 }, { "arg", 1 },
  { "root", 1 }, { "process-sha256", 1 }, { "init", 2 }, { "console-size", 2 }, { "join-namespace", 2 }, { "join-cgroup", 1 },
  { "cgroup2", 2 }, { "device-program", 2 }, { "mount-idmap", 4 }, { "reopen-dev-null", 0 },
  { "systemd-scope", 8 },
};

int parse_i64(const char *s, long long *out) {
  char *end;
  if (!*s) return -1;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

int parse_u64(const char *s, unsigned long long *out) {
  char *end;
  if (!*s || *s == '-') return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

// Numeric arguments per op (index list), checked once here so executors can trust them.
static int numbers_ok(const struct rec *r) {
  static const struct { const char *op; int idx[6]; int n; } NUM[] = {
    { "cgroup", { 2 }, 1 }, { "cgroup-write", { 2 }, 1 }, { "oom-score-adj", { 0 }, 1 }, { "terminal", { 0 }, 1 },
    { "root-propagation", { 0, 1 }, 2 }, { "mount", { 3, 6, 8 }, 3 }, { "device", { 1, 2, 3, 4, 5 }, 5 },
    { "rlimit", { 0, 1, 2 }, 3 }, { "user", { 0, 1, 2 }, 3 }, { "additional-gid", { 0 }, 1 },
    { "caps", { 0, 1, 2, 3 }, 4 }, { "ambient", { 0 }, 1 }, { "init", { 0, 1 }, 2 }, { "console-size", { 0, 1 }, 2 },
    { "mount-idmap", { 3 }, 1 }, { "systemd-scope", { 4, 5, 6 }, 3 },
  };
  for (size_t i = 0; i < sizeof NUM / sizeof NUM[0]; i++) {
    if (strcmp(NUM[i].op, r->op) != 0) continue;
    for (int k = 0; k < NUM[i].n; k++) {
      long long v;
      unsigned long long u;
      const char *s = r->args[NUM[i].idx[k]];
      if (parse_i64(s, &v) != 0 && parse_u64(s, &u) != 0) return 0;
    }
  }
  if (strcmp(r->op, "mount") == 0) {
    // propagation: space-separated numbers
    const char *s = r->args[7];
    while (*s) {
      char *end;
      errno = 0;
      strtoul(s, &end, 10);
      if (errno || end == s || (*end != ' ' && *end)) return 0;
      s = *end ? end + 1 : end;
    }
  }
  return 1;
}

int plan_parse(struct plan *p, const char *version, char *buf, size_t len, char *why, size_t whylen) {
  memset(p, 0, sizeof *p);
  p->buf = buf;
  p->len = len;
  if (len == 0 || buf[len - 1] != 0) {
    snprintf(why, whylen, "not NUL-terminated");
    return len == 0 ? PLAN_OTHER_VERSION : PLAN_INVALID;
  }
  size_t nstr = 0;
  for (size_t i = 0; i < len; i++) nstr += buf[i] == 0;
  char **strs = xmalloc(sizeof(char *) * nstr);
  size_t k = 0;
  for (size_t i = 0; i < len; i += strlen(buf + i) + 1) strs[k++] = buf + i;
  if (strcmp(strs[0], version) != 0) return PLAN_OTHER_VERSION;
  p->version = version;
  p->recs = xmalloc(sizeof(struct rec) * nstr);
  for (size_t i = 1; i < nstr;) {
    const char *op = strs[i];
    int nargs = -1;
    for (size_t o = 0; o < sizeof OPS / sizeof OPS[0]; o++) {
      if (strcmp(OPS[o].op, op) == 0) nargs = OPS[o].nargs;
    }
    if (nargs < 0) {
      snprintf(why, whylen, "unknown op %s", op);
      return PLAN_INVALID;
    }
    if (i + 1 + (size_t)nargs > nstr) {
      snprintf(why, whylen, "op %s: missing arguments", op);
      return PLAN_INVALID;
    }
    struct rec *r = &p->recs[p->nrecs++];
    r->op = op;
    r->args = &strs[i + 1];
    r->nargs = nargs;
    if (!numbers_ok(r)) {
      snprintf(why, whylen, "op %s: a number does not parse", op);
      return PLAN_INVALID;
    }
    i += 1 + (size_t)nargs;
    if (strcmp(op, "id") == 0) p->id = r->args[0];
    else if (strcmp(op, "config-sha256") == 0) p->config_sha = r->args[0];
    else if (strcmp(op, "bundle") == 0) p->bundle = r->args[0];
    else if (strcmp(op, "rootfs") == 0) p->rootfs = r->args[0];
    else if (strcmp(op, "state") == 0) p->state_rest = r->args[0];
    else if (strcmp(op, "root") == 0) p->root = r->args[0];
    else if (strcmp(op, "process-sha256") == 0) p->process_sha = r->args[0];
    else if (strcmp(op, "init") == 0) {
      parse_i64(r->args[0], &p->init_pid);
      p->init_start = r->args[1];
    } else if (strcmp(op, "terminal") == 0) p->terminal = strcmp(r->args[0], "1") == 0;
    else if (strcmp(op, "oom-score-adj") == 0) {
      long long v;
      parse_i64(r->args[0], &v);
      p->has_oom = 1;
      p->oom = (long)v;
    }
  }
  int exec = strcmp(version, EXEC_PLAN_VERSION) == 0;
  if (exec ? !p->id || !p->root || !p->process_sha || !p->init_start || p->init_pid <= 0
           : !p->id || !p->config_sha || !p->bundle || !p->rootfs || !p->state_rest) {
    snprintf(why, whylen, "a header record is missing");
    return PLAN_INVALID;
  }
  return PLAN_OK;
}
