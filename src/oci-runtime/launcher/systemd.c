// The systemd cgroup driver's calls for create: StartTransientUnit, which makes the
// container's scope around the init, SetUnitProperties, which tells systemd the limits
// it manages once the init is ready, and StopUnit, which undoes the scope when the
// create fails. TypeScript marshals the messages (launch-plan.ts systemdScopeRecord); this
// file is their transport over systemd's private socket: EXTERNAL authentication, the
// init's pid written into the start message, the reply read and an error reply
// reported with systemd's name and text. Not a D-Bus library: no bus, no signals.
#include "launcher.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

// libdbus's default reply timeout: a hung systemd fails the create instead of hanging it.
#define CALL_TIMEOUT_S 25
// How long systemd may take to run the start job that moves the init into the scope.
#define SCOPE_WAIT_MS 10000
// A reply larger than this is not one of systemd's to these calls.
#define MAX_REPLY (1u << 20)

enum { MSG_RETURN = 2, MSG_ERROR = 3 };
enum { FIELD_ERROR_NAME = 4, FIELD_REPLY_SERIAL = 5 };

struct scope {
  const char *socket, *unit, *cgroup_line;
  unsigned char *messages;
  // start, stop, then the optional limits: [0, start_len), [start_len, set_at), [set_at, messages_len).
  size_t start_len, set_at, messages_len, pid_offset;
};

static int read_exact(int fd, unsigned char *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) {
      errno = ECONNRESET;
      return -1;
    }
    got += (size_t)n;
  }
  return 0;
}

static uint32_t u32_at(const unsigned char *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

// Connects and authenticates as this process's uid. Returns the socket, or -1 with
// errno and *step naming what failed.
static int systemd_connect(const char *socket_path, const char **step) {
  *step = "socket";
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct timeval tv = { .tv_sec = CALL_TIMEOUT_S };
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  *step = "connect";
  if (strlen(socket_path) >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    goto fail;
  }
  strcpy(addr.sun_path, socket_path);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) goto fail;
  char uid[16], hex[40], auth[64];
  int n = snprintf(uid, sizeof uid, "%u", (unsigned)getuid());
  for (int i = 0; i < n; i++) sprintf(hex + 2 * i, "%02x", (unsigned char)uid[i]);
  int len = snprintf(auth, sizeof auth, "%cAUTH EXTERNAL %s\r\n", 0, hex);
  *step = "authenticate";
  if (write_all(fd, auth, (size_t)len) < 0) goto fail;
  char line[256];
  size_t got = 0;
  while (got < 2 || line[got - 2] != '\r' || line[got - 1] != '\n') {
    if (got == sizeof line - 1) {
      errno = EPROTO;
      goto fail;
    }
    if (read_exact(fd, (unsigned char *)line + got, 1) < 0) goto fail;
    got++;
  }
  line[got] = 0;
  if (strncmp(line, "OK ", 3) != 0) {
    errno = EACCES;
    goto fail;
  }
  if (write_all(fd, "BEGIN\r\n", 7) < 0) goto fail;
  return fd;
fail:;
  int saved = errno;
  close(fd);
  errno = saved;
  return -1;
}

// Reads replies until the one to `serial`. Returns 0 for a method return; for an
// error reply, 1 with its name and text in err; -1 with errno when the connection failed.
static int read_reply(int fd, uint32_t serial, char *err, size_t errlen) {
  for (;;) {
    unsigned char head[16];
    if (read_exact(fd, head, sizeof head) < 0) return -1;
    if (head[0] != 'l') {
      errno = EPROTO;
      return -1;
    }
    uint32_t body_len = u32_at(head + 4), fields_len = u32_at(head + 12);
    if (body_len > MAX_REPLY || fields_len > MAX_REPLY) {
      errno = EMSGSIZE;
      return -1;
    }
    size_t body_at = (16 + (size_t)fields_len + 7) & ~(size_t)7, total = body_at + body_len;
    unsigned char *msg = xmalloc(total);
    memcpy(msg, head, sizeof head);
    if (read_exact(fd, msg + 16, total - 16) < 0) {
      free(msg);
      return -1;
    }
    // The header fields a(yv): code, signature, value; only u, s, o and g values occur.
    uint32_t reply_serial = 0;
    const char *error_name = NULL;
    size_t off = 16, end = 16 + fields_len;
    int bad = 0;
    while (off < end && !bad) {
      off = (off + 7) & ~(size_t)7;
      if (off + 2 > end) { bad = 1; break; }
      unsigned char code = msg[off], sig_len = msg[off + 1];
      if (off + 2 + sig_len + 1 > end || sig_len != 1) { bad = 1; break; }
      char type = (char)msg[off + 2];
      off += 2 + sig_len + 1;
      if (type == 'u' || type == 's' || type == 'o') {
        off = (off + 3) & ~(size_t)3;
        if (off + 4 > end) { bad = 1; break; }
        uint32_t v = u32_at(msg + off);
        off += 4;
        if (type == 'u') {
          if (code == FIELD_REPLY_SERIAL) reply_serial = v;
          continue;
        }
        if (off + v + 1 > end || msg[off + v] != 0) { bad = 1; break; }
        if (code == FIELD_ERROR_NAME) error_name = (const char *)msg + off;
        off += v + 1;
      } else if (type == 'g') {
        if (off + 1 > end || off + 1 + msg[off] + 1 > end) { bad = 1; break; }
        off += 1 + msg[off] + 1;
      } else {
        bad = 1;
      }
    }
    if (bad) {
      free(msg);
      errno = EPROTO;
      return -1;
    }
    if (reply_serial != serial || (msg[1] != MSG_RETURN && msg[1] != MSG_ERROR)) {
      free(msg);
      continue; // a signal, or a reply to something else
    }
    int rc = 0;
    if (msg[1] == MSG_ERROR) {
      rc = 1;
      // The body of systemd's errors is one string: the text.
      const char *text = "";
      if (body_len >= 5 && u32_at(msg + body_at) <= body_len - 5 && msg[body_at + 4 + u32_at(msg + body_at)] == 0) text = (const char *)msg + body_at + 4;
      snprintf(err, errlen, "%s: %s", error_name ? error_name : "error", text);
    }
    free(msg);
    return rc;
  }
}

// Sends one message and reads its reply, as above; *step names what failed.
static int call(const char *socket_path, const unsigned char *message, size_t len, char *err, size_t errlen, const char **step) {
  int fd = systemd_connect(socket_path, step);
  if (fd < 0) return -1;
  *step = "send";
  int rc = write_all(fd, message, len);
  if (rc == 0) {
    *step = "read the reply";
    rc = read_reply(fd, u32_at(message + 8), err, errlen);
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

static struct scope scope;

void systemd_scope_load(const struct rec *r) {
  unsigned long long start_len, stop_len, pid_offset;
  char *messages, digest[65];
  size_t len;
  if (parse_u64(r->args[4], &start_len) != 0 || parse_u64(r->args[5], &stop_len) != 0 || parse_u64(r->args[6], &pid_offset) != 0) {
    dief("launch plan: invalid systemd-scope record");
  }
  if (read_file(r->args[2], &messages, &len) < 0) die("launch plan: read the systemd messages %s", r->args[2]);
  sha256_hex((unsigned char *)messages, len, digest);
  if (strcmp(digest, r->args[3]) != 0 || start_len < 16 || stop_len < 16 || start_len + stop_len > len || pid_offset + 4 > start_len ||
      (len > start_len + stop_len && len - start_len - stop_len < 16)) {
    dief("launch plan: the systemd messages %s do not match the plan", r->args[2]);
  }
  scope = (struct scope){ .socket = r->args[0], .unit = r->args[1], .cgroup_line = r->args[7], .messages = (unsigned char *)messages,
                          .start_len = (size_t)start_len, .set_at = (size_t)(start_len + stop_len), .messages_len = len,
                          .pid_offset = (size_t)pid_offset };
}

static int in_scope(pid_t pid, const char *want) {
  char path[64], *text;
  size_t len;
  snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
  if (read_file(path, &text, &len) < 0) die("read %s (the init exited before systemd moved it into its scope)", path);
  int found = 0;
  for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    size_t n = strcspn(line, "\n");
    if (strncmp(line, "0::", 3) == 0 && n == strlen(want) && strncmp(line, want, n) == 0) found = 1;
  }
  free(text);
  return found;
}

void systemd_scope_start(pid_t pid) {
  uint32_t p = (uint32_t)pid;
  unsigned char le[4] = { (unsigned char)p, (unsigned char)(p >> 8), (unsigned char)(p >> 16), (unsigned char)(p >> 24) };
  memcpy(scope.messages + scope.pid_offset, le, sizeof le);
  char err[512];
  const char *step;
  int rc = call(scope.socket, scope.messages, scope.start_len, err, sizeof err, &step);
  if (rc < 0) die("systemd StartTransientUnit %s: %s %s", scope.unit, step, scope.socket);
  if (rc > 0) dief("systemd StartTransientUnit %s: %s", scope.unit, err);
  // The start is a job: the scope is ready once the init is in its cgroup.
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (!in_scope(pid, scope.cgroup_line)) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > SCOPE_WAIT_MS) {
      dief("systemd did not move the init %d into %s within %d ms", (int)pid, scope.unit, SCOPE_WAIT_MS);
    }
    usleep(2000);
  }
}

void systemd_scope_set_limits(void) {
  if (scope.set_at == scope.messages_len) return;
  char err[512];
  const char *step;
  int rc = call(scope.socket, scope.messages + scope.set_at, scope.messages_len - scope.set_at, err, sizeof err, &step);
  if (rc < 0) die("systemd SetUnitProperties %s: %s %s", scope.unit, step, scope.socket);
  if (rc > 0) dief("systemd SetUnitProperties %s: %s", scope.unit, err);
}

int systemd_scope_stop(char *err, size_t errlen) {
  const char *step;
  int rc = call(scope.socket, scope.messages + scope.start_len, scope.set_at - scope.start_len, err, errlen, &step);
  if (rc < 0) snprintf(err, errlen, "%s %s: %s", step, scope.socket, strerror(errno));
  // A scope systemd never made, or collected once empty, is no failure.
  if (rc > 0 && strncmp(err, "org.freedesktop.systemd1.NoSuchUnit:", 36) == 0) return 0;
  return rc == 0 ? 0 : -1;
}
