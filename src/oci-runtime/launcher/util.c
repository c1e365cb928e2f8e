// Errors, files and the mount table: small helpers shared by both sides.
#include "launcher.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void (*fatal_handler)(const char *msg);

static __attribute__((noreturn)) void vfatal(int with_errno, const char *fmt, va_list ap) {
  int saved = errno;
  char msg[4096];
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  if (with_errno && n >= 0 && (size_t)n < sizeof msg) snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(saved));
  fatal_handler(msg);
  _exit(1);
}

void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfatal(1, fmt, ap);
}

void dief(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfatal(0, fmt, ap);
}

void *xmalloc(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (!p) dief("out of memory");
  return p;
}

char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p) dief("out of memory");
  return p;
}

char *xasprintf(const char *fmt, ...) {
  va_list ap;
  char *s;
  va_start(ap, fmt);
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0) dief("out of memory");
  return s;
}

int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int read_file(const char *path, char **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t cap = 8192, n = 0;
  char *buf = malloc(cap + 1);
  if (!buf) { close(fd); errno = ENOMEM; return -1; }
  for (;;) {
    if (n == cap) {
      cap *= 2;
      char *nb = realloc(buf, cap + 1);
      if (!nb) { free(buf); close(fd); errno = ENOMEM; return -1; }
      buf = nb;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      free(buf);
      close(fd);
      errno = e;
      return -1;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = 0;
  *out = buf;
  *len = n;
  return 0;
}

// Writes an existing file (cgroup and proc files): one write, as the kernel wants.
int write_file(const char *path, const char *data, size_t len, int flags) {
  int fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0644);
  if (fd < 0) return -1;
  if (write_all(fd, data, len) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return close(fd);
}

// Temp file + rename, as state.ts replaceFile.
int replace_file(const char *path, const void *data, size_t len, mode_t mode) {
  const char *slash = strrchr(path, '/');
  char tmp[4096];
  if (slash) snprintf(tmp, sizeof tmp, "%.*s/.%s.%d.tmp", (int)(slash - path), path, slash + 1, (int)getpid());
  else snprintf(tmp, sizeof tmp, ".%s.%d.tmp", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return -1;
  if (write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0) {
    int e = errno;
    close(fd);
    unlink(tmp);
    errno = e;
    return -1;
  }
  close(fd);
  if (rename(tmp, path) < 0) {
    int e = errno;
    unlink(tmp);
    errno = e;
    return -1;
  }
  return 0;
}

// Mount points in /proc/self/mountinfo escape space, tab, newline and backslash as \ooo.
static void unescape(char *s) {
  char *w = s;
  for (char *r = s; *r;) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 4;
    } else {
      *w++ = *r++;
    }
  }
  *w = 0;
}

// The longest mount point containing path (as mountinfo.ts mountContaining), and
// whether that mount is shared (an optional field "shared:N").
int mount_containing(const char *path, char *mountpoint, size_t len, int *shared) {
  char *text;
  size_t tlen;
  if (read_file("/proc/self/mountinfo", &text, &tlen) < 0) return -1;
  size_t best = 0;
  int found = 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *fields[64];
    int nf = 0;
    char *s2 = NULL;
    for (char *f = strtok_r(line, " ", &s2); f && nf < 64; f = strtok_r(NULL, " ", &s2)) fields[nf++] = f;
    if (nf < 7) continue;
    char *mp = fields[4];
    unescape(mp);
    size_t ml = strlen(mp);
    int contains = strcmp(mp, "/") == 0 || strcmp(path, mp) == 0 || (strncmp(path, mp, ml) == 0 && path[ml] == '/');
    if (!contains || (found && ml < best)) continue;
    found = 1;
    best = ml;
    snprintf(mountpoint, len, "%s", mp);
    *shared = 0;
    for (int i = 6; i < nf && strcmp(fields[i], "-") != 0; i++) {
      if (strncmp(fields[i], "shared:", 7) == 0) *shared = 1;
    }
  }
  free(text);
  if (!found) {
    errno = ENOENT;
    return -1;
  }
  return 0;
}

// The pty master to a console socket (SCM_RIGHTS, named as the Node runtime names it).
int send_fd(int sock, int fd) {
  static const char name[] = "/dev/ptmx";
  struct iovec iov = { .iov_base = (void *)name, .iov_len = sizeof name - 1 };
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof(int));
  return sendmsg(sock, &msg, 0) < 0 ? -1 : 0;
}

int cap_last_cap(void) {
  char *text;
  size_t len;
  if (read_file("/proc/sys/kernel/cap_last_cap", &text, &len) < 0) die("read /proc/sys/kernel/cap_last_cap");
  int last = atoi(text);
  free(text);
  return last;
}

// The state (field 3) and start time (field 22) of /proc/<pid>/stat; state 0 when unreadable.
char proc_stat(pid_t pid, char *start, size_t len) {
  char path[64], *text;
  size_t tl;
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  start[0] = 0;
  if (read_file(path, &text, &tl) < 0) return 0;
  char *p = strrchr(text, ')');
  char state = p && p[1] == ' ' ? p[2] : 0;
  for (int field = 3; p && field <= 22; field++) p = strchr(p + 1, ' ');
  if (p) {
    p++;
    size_t n = strcspn(p, " \n");
    snprintf(start, len, "%.*s", (int)n, p);
  }
  free(text);
  return state;
}

// A program a plan names (seccomp, device rules): its bytes, checked against the
// plan's digest, a whole number of 8-byte instructions, at most max_insns of them.
unsigned char *read_program(const char *path, const char *sha256, const char *what, size_t max_insns, size_t *len) {
  char *prog, digest[65];
  if (read_file(path, &prog, len) < 0) die("launch plan: read the %s program %s", what, path);
  sha256_hex((unsigned char *)prog, *len, digest);
  if (strcmp(digest, sha256) != 0 || *len == 0 || *len % 8 != 0 || *len / 8 > max_insns) {
    dief("launch plan: the %s program %s does not match the plan", what, path);
  }
  return (unsigned char *)prog;
}
