// srdxd's log: one line per record on stderr,
//   2026-11-27T00:00:00.123Z info srdxd: message
// with levels error < warn < info < debug. Thread-safe (one write per line).
// A record is always one line: control characters in a message (a URL's
// %0A, a peer's name, a file name) are escaped (\n, \r, \t, \xNN), so
// nothing that reaches a message can forge another line. Under systemd
// (stderr is the journal: $JOURNAL_STREAM names it) each line starts with
// its syslog priority, <3> error, <4> warn, <6> info, <7> debug, so that
// `journalctl -p warning` works.
#pragma once

#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>

namespace srdx::ctl {

enum class LogLevel : int { error = 0, warn = 1, info = 2, debug = 3 };

inline std::atomic<int>& log_threshold() {
  static std::atomic<int> level{static_cast<int>(LogLevel::info)};
  return level;
}

inline void set_log_level(LogLevel l) { log_threshold().store(static_cast<int>(l)); }

// "error", "warn", "info", "debug" -> level; false for anything else.
inline bool parse_log_level(std::string_view s, LogLevel& out) {
  if (s == "error")
    out = LogLevel::error;
  else if (s == "warn" || s == "warning")
    out = LogLevel::warn;
  else if (s == "info")
    out = LogLevel::info;
  else if (s == "debug")
    out = LogLevel::debug;
  else
    return false;
  return true;
}

inline bool log_enabled(LogLevel l) { return static_cast<int>(l) <= log_threshold().load(); }

inline const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::error:
      return "error";
    case LogLevel::warn:
      return "warn";
    case LogLevel::info:
      return "info";
    case LogLevel::debug:
      return "debug";
  }
  return "?";
}

// "2026-11-27T00:00:00.123Z" (UTC, milliseconds).
inline std::string utc_timestamp() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm t{};
  gmtime_r(&tv.tv_sec, &t);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                static_cast<int>(tv.tv_usec / 1000));
  return buf;
}

// The message with every control character escaped (one line, always).
inline std::string escape_log_text(std::string_view msg) {
  std::string out;
  out.reserve(msg.size());
  for (const char ch : msg) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7f) {
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

// syslog priorities (sd-daemon(3)): the journal reads them from "<N>".
inline int syslog_priority(LogLevel l) {
  switch (l) {
    case LogLevel::error:
      return 3;
    case LogLevel::warn:
      return 4;
    case LogLevel::info:
      return 6;
    case LogLevel::debug:
      return 7;
  }
  return 6;
}

// Whether stderr is the journal's stream: $JOURNAL_STREAM is "DEV:INODE" of
// it (systemd.exec(5)); checked against fd 2, so that a child that inherited
// the variable but writes elsewhere gets no prefixes.
inline bool stderr_is_journal() {
  static const bool yes = [] {
    const char* js = std::getenv("JOURNAL_STREAM");
    if (js == nullptr) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st {};
    return fstat(2, &st) == 0 && static_cast<unsigned long long>(st.st_dev) == dev &&
           static_cast<unsigned long long>(st.st_ino) == ino;
  }();
  return yes;
}

inline std::string format_log_line(LogLevel l, std::string_view msg, bool journal,
                                   const std::string& timestamp) {
  std::string line;
  if (journal) line = "<" + std::to_string(syslog_priority(l)) + ">";
  line += timestamp + " " + level_name(l) + " srdxd: " + escape_log_text(msg) + "\n";
  return line;
}

inline void log_line(LogLevel l, const std::string& msg) {
  if (!log_enabled(l)) return;
  const std::string line = format_log_line(l, msg, stderr_is_journal(), utc_timestamp());
  // One write(2) per line, so that lines from several threads never interleave.
  [[maybe_unused]] ssize_t n = ::write(2, line.data(), line.size());
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
inline void
logf(LogLevel l, const char* fmt, ...) {
  if (!log_enabled(l)) return;
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  log_line(l, buf);
}

#define SRDX_LOG_ERROR(...) ::srdx::ctl::logf(::srdx::ctl::LogLevel::error, __VA_ARGS__)
#define SRDX_LOG_WARN(...) ::srdx::ctl::logf(::srdx::ctl::LogLevel::warn, __VA_ARGS__)
#define SRDX_LOG_INFO(...) ::srdx::ctl::logf(::srdx::ctl::LogLevel::info, __VA_ARGS__)
#define SRDX_LOG_DEBUG(...) ::srdx::ctl::logf(::srdx::ctl::LogLevel::debug, __VA_ARGS__)

}  // namespace srdx::ctl
