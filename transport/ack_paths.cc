#include "ack_paths.h"

namespace srdx {

AckPaths::Slot* AckPaths::find(uint16_t entropy) {
  for (Slot& s : slots_)
    if (s.entropy == entropy) return &s;
  return nullptr;
}

AckPaths::Slot& AckPaths::take(uint16_t entropy, Time now) {
  if (Slot* s = find(entropy)) return *s;
  // A free slot, else the unproven one waiting longest, else the proven one
  // waiting longest for an echo (all proven: the new one has been echoed, or
  // is about to be tried, and the table keeps the freshest evidence).
  Slot* pick = nullptr;
  for (Slot& s : slots_) {
    if (s.entropy == 0) {
      pick = &s;
      break;
    }
    const bool better = !pick || (pick->proven && !s.proven) ||
                        (pick->proven == s.proven && s.unanswered > pick->unanswered);
    if (better) pick = &s;
  }
  *pick = Slot{};
  pick->entropy = entropy;
  pick->first_unanswered = now;
  return *pick;
}

uint16_t AckPaths::choose(uint16_t data_entropy, uint16_t fallback, Time now, bool explore) {
  uint16_t e = 0;
  explore |= ++since_explore_ >= kExploreEvery;
  if (!explore) {
    for (size_t i = 0; i < kSlots && e == 0; ++i) {
      const Slot& s = slots_[(rr_ + i) % kSlots];
      if (s.proven) {
        e = s.entropy;
        rr_ = static_cast<uint32_t>((rr_ + i + 1) % kSlots);
      }
    }
  }
  if (e == 0) {
    // Exploring, or nothing proven: retrace the data (a draw the data's
    // sender made), else whatever the caller had.
    since_explore_ = 0;
    e = data_entropy ? data_entropy : fallback;
    if (e == 0) return 0;
  }
  Slot& s = take(e, now);
  if (s.unanswered++ == 0) s.first_unanswered = now;
  return e;
}

bool AckPaths::overdue(const Slot& s, Time now) const {
  if (s.unanswered < kMisses) return false;
  // Without a measure of the echo time, count alone (twice as many).
  if (echo_rtt_ == Duration::zero()) return s.unanswered >= 2 * kMisses;
  return now - s.first_unanswered > echo_rtt_ * 2;
}

void AckPaths::on_echo(uint16_t entropy, Time now) {
  Slot* s = find(entropy);
  if (!s) {
    s = &take(entropy, now);
  } else if (s->unanswered > 0) {
    // ACK to echo: the round trip from here, plus the sender's wait for data
    // to carry it.
    const Duration d = now - s->first_unanswered;
    echo_rtt_ = echo_rtt_ == Duration::zero() ? d : (echo_rtt_ * 7 + d) / 8;
  }
  s->proven = true;
  s->unanswered = 0;
  judge(now);
}

void AckPaths::judge(Time now) {
  for (Slot& s : slots_) {
    if (s.entropy == 0 || !overdue(s, now)) continue;
    if (s.proven) ++dropped_;
    s = Slot{};
  }
}

uint32_t AckPaths::proven() const {
  uint32_t n = 0;
  for (const Slot& s : slots_) n += s.proven;
  return n;
}

bool AckPaths::is_proven(uint16_t entropy) const {
  for (const Slot& s : slots_)
    if (s.proven && s.entropy == entropy) return true;
  return false;
}

}  // namespace srdx
