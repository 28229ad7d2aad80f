#include "replicate/session.h"

namespace srdx::replicate {

std::string_view to_string(Mode m) {
  switch (m) {
    case Mode::durable:
      return "durable";
    case Mode::received:
      return "received";
    case Mode::async:
      return "async";
  }
  return "?";
}

bool parse_mode(std::string_view text, Mode& out) {
  for (Mode m : {Mode::durable, Mode::received, Mode::async}) {
    if (text == to_string(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

std::string_view to_string(JobState s) {
  switch (s) {
    case JobState::starting:
      return "starting";
    case JobState::syncing:
      return "syncing";
    case JobState::watching:
      return "watching";
    case JobState::done:
      return "done";
    case JobState::failed:
      return "failed";
    case JobState::stopped:
      return "stopped";
  }
  return "?";
}

// The protocol's implementation follows in the next commits.
struct Source::Impl {};
Source::Source(SourceOptions, carrier::Carrier&, PeerId, AuditLog*) {}
Source::~Source() = default;
void Source::start(Time) {}
bool Source::on_event(const Event&, Time) { return false; }
void Source::tick(Time) {}
Progress Source::progress() const { return {}; }
void Source::barrier(std::function<void(bool, double)>) {}
void Source::stop() {}
bool Source::finished() const { return false; }

struct Sink::Impl {};
Sink::Sink(SinkOptions, carrier::Carrier&, AuditLog*) {}
Sink::~Sink() = default;
bool Sink::on_event(const Event&, Time) { return false; }
void Sink::tick(Time) {}
void Sink::name_peer(PeerId, std::string) {}
SinkStats Sink::stats() const { return {}; }

}  // namespace srdx::replicate
