// srdxd: the srdx appliance daemon. See `srdxd --help` and srdxd.conf.example.
//
// Exit status: 0 clean stop (or --check-config / --help); 1 could not start
// (link, ports); 2 invalid configuration.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "config.h"
#include "daemon.h"
#include "log.h"

using namespace srdx::ctl;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  DaemonConfig cfg;
  const ParseResult r = parse_config(args, cfg);
  switch (r.outcome) {
    case ParseOutcome::help:
    case ParseOutcome::version:
      std::cout << r.message;
      return 0;
    case ParseOutcome::error:
      std::fprintf(stderr, "srdxd: %s\n", r.message.c_str());
      return 2;
    case ParseOutcome::check:
      std::printf("config ok\n");
      return 0;
    case ParseOutcome::run:
      break;
  }
  set_log_level(cfg.log_level);
  try {
    Daemon d(std::move(cfg), std::move(args));
    return d.run();
  } catch (const std::exception& e) {
    log_line(LogLevel::error, std::string("fatal: ") + e.what());
    return 1;
  }
}
