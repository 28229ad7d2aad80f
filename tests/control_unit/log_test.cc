// srdxd's log lines: one line per record whatever the message holds, and
// the journal's priority prefix when stderr is the journal.
#include "log.h"

#include <gtest/gtest.h>

#include <string>

namespace srdx::ctl {
namespace {

TEST(Log, ControlCharactersCannotForgeALine) {
  // What GET /v1/status%0A2026-01-01T00:00:00.000Z%20error%20srdxd:%20forged
  // puts in a message.
  const std::string path = "/v1/status\n2026-01-01T00:00:00.000Z error srdxd: forged\r\x1b[2J\x7f";
  const std::string line =
      format_log_line(LogLevel::info, "api: 401 GET " + path, false, "2026-12-07T00:00:00.000Z");
  EXPECT_EQ(
      line,
      "2026-12-07T00:00:00.000Z info srdxd: api: 401 GET /v1/status\\n2026-01-01T00:00:00.000Z "
      "error srdxd: forged\\r\\x1b[2J\\x7f\n");
  // Exactly one newline: the record's own.
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  // UTF-8 and the printable rest pass unchanged.
  EXPECT_EQ(escape_log_text("pätient über 80 °F\ttab"), "pätient über 80 °F\\ttab");
}

TEST(Log, JournalPriorities) {
  EXPECT_EQ(format_log_line(LogLevel::error, "x", true, "T"), "<3>T error srdxd: x\n");
  EXPECT_EQ(format_log_line(LogLevel::warn, "x", true, "T"), "<4>T warn srdxd: x\n");
  EXPECT_EQ(format_log_line(LogLevel::info, "x", true, "T"), "<6>T info srdxd: x\n");
  EXPECT_EQ(format_log_line(LogLevel::debug, "x", true, "T"), "<7>T debug srdxd: x\n");
  EXPECT_EQ(format_log_line(LogLevel::warn, "x", false, "T"), "T warn srdxd: x\n");
}

}  // namespace
}  // namespace srdx::ctl
