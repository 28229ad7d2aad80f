// A blind attacker: a machine on the fabric that knows the endpoints'
// addresses and ports (they are no secret) but none of their connection
// identifiers, and floods each endpoint with forged srdx packets that claim to
// come from its peer (spoofed source addresses): hellos, hello_acks, data and
// ACKs, well formed and with valid checksums (built with the transport's own
// encoders), their identifiers (epochs today) drawn at random: tiny, huge,
// clock-like and uniform. Packet numbers, message ids, floors, credit and ACK
// ranges are random too. It never sees an answer: what the victims send back
// goes to the real owner of the address.
//
// Every forged data payload starts with a message index tagged by
// kForgedIndexTag, so that a scenario recognises a delivered forgery as such
// (and never as one of its own messages).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "sim/network.h"
#include "sim/rng.h"

namespace srdx::sim {

// The top 16 bits of the index a forged payload claims.
inline constexpr uint64_t kForgedIndexTag = 0xF0F0ull << 48;
constexpr bool is_forged_index(uint64_t index) { return (index >> 48) == (kForgedIndexTag >> 48); }

struct AttackConfig {
  Time start;
  Time end = Time::infinite();
  uint64_t rate_pps = 100'000;  // forged datagrams per second, over every target
  // Share of forged hellos whose header names a random receive port: each
  // such port is a new identity at the spoofed address, to an endpoint that
  // accepts unknown peers.
  double new_identity = 0.1;
  uint64_t seed = 1;
};

// One direction of a connection to forge: datagrams claiming to come from
// `from` (a real endpoint) sent to `to` (its peer).
struct AttackTarget {
  Addr from, to;
};

struct AttackCounters {
  uint64_t sent = 0;  // forged datagrams handed to the network
  uint64_t hello = 0, hello_ack = 0, data = 0, ack = 0, retry = 0, close = 0;
  uint64_t received = 0;  // datagrams addressed to the attacker itself (none expected)
};

class Attacker : public Port {
 public:
  // Attaches at `own` on `side` (the attacker's real address, which it never
  // sends from).
  Attacker(Network& net, Addr own, Side side, const AttackConfig& cfg,
           std::vector<AttackTarget> targets);
  ~Attacker() override;
  Attacker(const Attacker&) = delete;
  Attacker& operator=(const Attacker&) = delete;

  const AttackCounters& counters() const { return counters_; }
  const AttackConfig& config() const { return cfg_; }

  // Port.
  void deliver(const Datagram& d, Time now) override;
  Time deadline() const override;
  void poll(Time now) override;

 private:
  void forge_one();
  uint64_t identifier();
  uint64_t small_or_any(uint64_t small);

  Network& net_;
  AttackConfig cfg_;
  std::vector<AttackTarget> targets_;
  Rng rng_;
  Duration interval_;
  Time next_;
  uint64_t forged_messages_ = 0;
  AttackCounters counters_;
  std::array<uint8_t, 2048> buf_{};
};

}  // namespace srdx::sim
