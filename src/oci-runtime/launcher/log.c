// The --log file in runc's (logrus) shapes, as log.ts writes it: JSON
// {"level","msg","time",...fields} or text `time="..." level=... msg="..." k=v`.
#include "launcher.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_file;
static int log_json;
static int log_debug;

void log_open(const char *file, int json, int debug) {
  log_file = file;
  log_json = json;
  log_debug = debug;
}

int log_debug_enabled(void) {
  return log_debug;
}

// JSON.stringify of a string: quotes, backslash, control characters escaped; UTF-8 passes through.
size_t json_escape(char *out, size_t outlen, const char *s) {
  size_t n = 0;
#define PUT(c) do { if (n + 1 < outlen) out[n] = (c); n++; } while (0)
  PUT('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    unsigned char c = *p;
    if (c == '"' || c == '\\') { PUT('\\'); PUT((char)c); }
    else if (c == '\n') { PUT('\\'); PUT('n'); }
    else if (c == '\r') { PUT('\\'); PUT('r'); }
    else if (c == '\t') { PUT('\\'); PUT('t'); }
    else if (c == '\b') { PUT('\\'); PUT('b'); }
    else if (c == '\f') { PUT('\\'); PUT('f'); }
    else if (c < 0x20) {
      char u[7];
      snprintf(u, sizeof u, "\\u%04x", c);
      for (int i = 0; u[i]; i++) PUT(u[i]);
    } else PUT((char)c);
  }
  PUT('"');
#undef PUT
  if (outlen) out[n < outlen ? n : outlen - 1] = 0;
  return n;
}

void iso_now(char *out, size_t len) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

// fields: NULL-terminated key, JSON-value pairs. A broken log file never changes the outcome.
void log_line(const char *level, const char *msg, const char *const *fields) {
  if (!log_file) return;
  if (strcmp(level, "debug") == 0 && !log_debug) return;
  char time[40], emsg[8192], line[12288];
  iso_now(time, sizeof time);
  json_escape(emsg, sizeof emsg, msg);
  int n;
  if (log_json) n = snprintf(line, sizeof line, "{\"level\":\"%s\",\"msg\":%s,\"time\":\"%s\"", level, emsg, time);
  else n = snprintf(line, sizeof line, "time=\"%s\" level=%s msg=%s", time, level, emsg);
  for (int i = 0; fields && fields[i] && fields[i + 1] && n > 0 && (size_t)n < sizeof line; i += 2) {
    n += snprintf(line + n, sizeof line - (size_t)n, log_json ? ",\"%s\":%s" : " %s=%s", fields[i], fields[i + 1]);
  }
  if (n < 0 || (size_t)n >= sizeof line - 2) n = (int)strlen(line);
  if (log_json) line[n++] = '}';
  line[n++] = '\n';
  int fd = open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return;
  write_all(fd, line, (size_t)n);
  close(fd);
}
