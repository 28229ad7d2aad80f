// srdxctl replicate: DR replication jobs through srdxd's API (start,
// status, stop, barrier) and the local tools that need no daemon (verify,
// restore, audit), which read a DR directory or an audit log directly.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "ctl/client.h"

namespace srdx::cli {

// Kept as text where a number is expected: checked here, with one line.
struct ReplicateOptions {
  std::string source, peer, mode = "durable";
  std::vector<std::string> include;
  bool once = false;
  std::string chunk_size;
  bool watch = false;
  std::string path, version, at;
  bool verify = false;
};

boost::program_options::options_description replicate_options(ReplicateOptions& o);

extern const char* const kReplicateUsage;

// verify, restore and audit read local files; the others talk to srdxd.
bool replicate_is_local(const std::string& sub);

// args: the positional arguments after "replicate" (args[0] is the
// subcommand). Throws CtlError on usage errors (kExitUsage) and daemon
// errors; returns the exit status.
int cmd_replicate_local(const std::vector<std::string>& args, const ReplicateOptions& o,
                        bool as_json);
int cmd_replicate_api(ApiClient& api, const std::vector<std::string>& args,
                      const ReplicateOptions& o, bool as_json);

}  // namespace srdx::cli
