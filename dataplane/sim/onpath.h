// An on-path attacker: a tap on the fabric (Network::set_tap) that sees
// every datagram the hosts send, and
//   - drops some (at most max_drops: the only thing here allowed to break a
//     connection);
//   - delays some, and so reorders them (sent later, unchanged);
//   - copies some (an exact copy now), and replays earlier ones (an exact
//     copy of a datagram from its history);
//   - alters copies: bits flipped in the header, the body (a sealed
//     datagram's ciphertext) or the tag, the clear checksum made right again
//     most of the time (it is no secret);
//   - reflects copies: back to their sender as if from its peer, or to a
//     third host;
//   - forges datagrams from what it learned on the wire (connection ids,
//     counters, message ids): hellos with made-up keys, old hellos sent again
//     with a fresh cookie (it asks the responder for one with a cookie-less
//     copy and takes the cookie from the retry it sees go by), hello_acks,
//     retries and closes, data and ACKs in the clear (forged data carries
//     kForgedIndexTag), and sealed datagrams of random bytes.
// The original of a copied, altered or reflected datagram goes through
// unchanged. Everything the attacker sends is labelled (Label) for the
// harness: the endpoints cannot see labels.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <span>
#include <vector>

#include "sim/network.h"
#include "sim/rng.h"

namespace srdx::sim {

struct OnPathConfig {
  Time start;
  Time end = Time::infinite();
  uint64_t seed = 1;
  // Per datagram seen, each drawn on its own.
  double drop = 0.0;  // taken off the wire
  uint64_t max_drops = std::numeric_limits<uint64_t>::max();
  double delay = 0.05;  // held back up to max_delay, then sent unchanged
  Duration max_delay = Duration::millis(1);
  double copy = 0.05;     // an exact copy at once
  double replay = 0.05;   // an exact copy of an earlier datagram
  double alter = 0.05;    // an altered copy
  double reflect = 0.03;  // a reflected copy
  double forge = 0.05;    // a forged datagram
};

struct OnPathCounters {
  uint64_t seen = 0;  // datagrams of the hosts the tap saw while active
  uint64_t dropped = 0, delayed = 0, copies = 0, replays = 0, altered = 0, reflected = 0;
  uint64_t forged = 0;  // every forged datagram, of which:
  uint64_t forged_hello = 0, forged_hello_ack = 0, recookied_hello = 0, forged_retry = 0,
           forged_close = 0, forged_data = 0, forged_ack = 0, forged_sealed = 0;
  uint64_t sent() const { return copies + replays + altered + reflected + forged; }
};

class OnPath : public Tap {
 public:
  // Taps `net` from now until destroyed.
  OnPath(Network& net, const OnPathConfig& cfg);
  ~OnPath() override;
  OnPath(const OnPath&) = delete;
  OnPath& operator=(const OnPath&) = delete;

  const OnPathCounters& counters() const { return counters_; }
  const OnPathConfig& config() const { return cfg_; }

  bool on_send(Addr src, uint16_t src_port, Addr dst, std::span<const uint8_t> bytes,
               Time now) override;

 private:
  struct Seen {
    Addr src, dst;
    uint16_t src_port = 0;
    std::vector<uint8_t> bytes;
  };
  // What the wire told about one direction (src -> dst) of a pair of hosts.
  struct Learned {
    uint64_t src_cid = 0, dst_cid = 0;  // src's id and dst's id
    uint64_t counter = 0;               // highest sealed counter seen
    uint64_t msg_id = 0, pn = 0;        // clear data: the latest seen
    uint16_t src_port = 0;              // the entropy it used
  };
  static uint64_t key(Addr a) { return (uint64_t{a.ip} << 16) | a.port; }
  Learned& learned(Addr src, Addr dst) { return learned_[{key(src), key(dst)}]; }
  void learn(const Seen& s);
  void send(const Seen& s, Label label);
  void alter(Seen& s);
  void reflect(Seen s);
  void forge(const Seen& s);
  void solicit_cookie(const Seen& hello);
  void on_retry(const Seen& s);
  static void fix_checksum(std::vector<uint8_t>& b);

  Network& net_;
  OnPathConfig cfg_;
  Rng rng_;
  OnPathCounters counters_;
  std::deque<Seen> history_;  // the latest datagrams seen
  std::deque<Seen> hellos_;   // the latest clear hellos seen (any age)
  // Hellos the attacker sent without a cookie, by src_cid: the retry that
  // comes back carries a fresh cookie for them.
  std::map<uint64_t, Seen> solicited_;
  std::map<std::pair<uint64_t, uint64_t>, Learned> learned_;
  std::vector<Addr> hosts_;
  uint64_t forged_messages_ = 0;
};

}  // namespace srdx::sim
