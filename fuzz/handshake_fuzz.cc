// libFuzzer target: the Noise IK handshake (transport/noise.h) on hostile
// bytes. The input's first byte picks a case; the rest is its material:
//   0  the responder reads arbitrary bytes as msg1 (with an arbitrary `ad`);
//      whatever it accepts, it must then answer, and the answer must be
//      readable by nobody but that initiator;
//   1  a genuine msg1 (ephemeral key from the input) altered by an XOR mask
//      from the input, over the message and its `ad`: the responder accepts
//      it exactly when the mask is zero, and then learns the initiator's
//      static key, and both sides end with the same secrets;
//   2  the same for msg2 at the initiator;
//   3  the initiator reads arbitrary bytes as msg2 after a genuine msg1;
//   4  calls out of order and after a failure: every one fails, none crashes.
// A case that succeeds also checks that the split secrets agree and differ by
// direction, and that the handshake hashes agree.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "noise.h"
#include "srdx/keys.h"

namespace {

using srdx::PrivateKey;
using srdx::PublicKey;
using srdx::crypto::NoiseIK;
using srdx::crypto::Secret;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "handshake_fuzz: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

constexpr uint8_t kPrologue[] = {'s', 'r', 'd', 'x', ' ', 'v', '3'};

PrivateKey fixed_key(uint8_t b) {
  PrivateKey k{};
  k.fill(b);
  return k;
}

struct Keys {
  PrivateKey i = fixed_key(0x11), r = fixed_key(0x22);
  PublicKey i_pub = srdx::public_key_of(i), r_pub = srdx::public_key_of(r);
};
const Keys& keys() {
  static const Keys k;
  return k;
}

// Reads the input; past its end every read gives 0.
class Reader {
 public:
  Reader(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  uint8_t u8() { return pos_ < n_ ? d_[pos_++] : 0; }
  void bytes(uint8_t* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = u8();
  }
  std::span<const uint8_t> rest() {
    const std::span<const uint8_t> r(d_ + pos_, n_ - pos_);
    pos_ = n_;
    return r;
  }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t pos_ = 0;
};

bool all_zero(std::span<const uint8_t> s) {
  for (uint8_t b : s)
    if (b) return false;
  return true;
}

// Both sides done: the same secrets, a different one per direction, the
// same handshake hash.
void check_agree(const NoiseIK& init, const NoiseIK& resp) {
  check(init.done() && resp.done(), "done() after msg2");
  Secret a_i2r{}, a_r2i{}, b_i2r{}, b_r2i{};
  init.split(a_i2r, a_r2i);
  resp.split(b_i2r, b_r2i);
  check(a_i2r == b_i2r && a_r2i == b_r2i, "the two sides' secrets differ");
  check(a_i2r != a_r2i, "one secret for both directions");
  check(!all_zero(a_i2r) && !all_zero(a_r2i), "zero secrets after a handshake");
  check(init.handshake_hash() == resp.handshake_hash(), "handshake hashes differ");
}

// A genuine first message from the fixed initiator, its ephemeral key and
// `ad` from the input.
void genuine_msg1(Reader& in, NoiseIK& init, std::array<uint8_t, 16>& ad,
                  std::array<uint8_t, NoiseIK::kMsg1Size>& msg1) {
  PrivateKey e{};
  in.bytes(e.data(), e.size());
  in.bytes(ad.data(), ad.size());
  init.init_initiator(keys().i, keys().r_pub, kPrologue);
  check(init.write_msg1(ad, msg1, &e), "write_msg1 failed");
}

template <size_t N>
bool mutate(Reader& in, std::array<uint8_t, N>& msg, std::array<uint8_t, 16>& ad) {
  bool changed = false;
  for (auto& b : msg) {
    const uint8_t m = in.u8();
    b ^= m;
    changed = changed || m;
  }
  for (auto& b : ad) {
    const uint8_t m = in.u8();
    b ^= m;
    changed = changed || m;
  }
  return changed;
}

void arbitrary_msg1(Reader& in) {
  std::array<uint8_t, NoiseIK::kMsg1Size> msg1{};
  in.bytes(msg1.data(), msg1.size());
  const std::span<const uint8_t> ad = in.rest();
  NoiseIK resp;
  resp.init_responder(keys().r, kPrologue);
  PublicKey who{};
  if (!resp.read_msg1(ad, msg1, who)) {
    check(!resp.done(), "done() after a refused msg1");
    return;
  }
  // Accepted (the input made a valid msg1 for some static key): the
  // responder must be able to answer.
  std::array<uint8_t, NoiseIK::kMsg2Size> msg2{};
  check(resp.write_msg2({}, msg2), "write_msg2 after an accepted msg1");
  check(resp.done(), "not done after write_msg2");
}

void altered_msg1(Reader& in) {
  NoiseIK init, resp;
  std::array<uint8_t, 16> ad{};
  std::array<uint8_t, NoiseIK::kMsg1Size> msg1{};
  genuine_msg1(in, init, ad, msg1);
  const bool changed = mutate(in, msg1, ad);
  resp.init_responder(keys().r, kPrologue);
  PublicKey who{};
  const bool ok = resp.read_msg1(ad, msg1, who);
  check(ok == !changed, changed ? "an altered msg1 accepted" : "a genuine msg1 refused");
  if (!ok) return;
  check(who == keys().i_pub, "the responder learned the wrong static key");
  std::array<uint8_t, NoiseIK::kMsg2Size> msg2{};
  check(resp.write_msg2(ad, msg2), "write_msg2");
  check(init.read_msg2(ad, msg2), "a genuine msg2 refused");
  check_agree(init, resp);
}

void altered_msg2(Reader& in) {
  NoiseIK init, resp;
  std::array<uint8_t, 16> ad{};
  std::array<uint8_t, NoiseIK::kMsg1Size> msg1{};
  genuine_msg1(in, init, ad, msg1);
  resp.init_responder(keys().r, kPrologue);
  PublicKey who{};
  check(resp.read_msg1(ad, msg1, who), "a genuine msg1 refused");
  PrivateKey e{};
  in.bytes(e.data(), e.size());
  std::array<uint8_t, NoiseIK::kMsg2Size> msg2{};
  check(resp.write_msg2(ad, msg2, &e), "write_msg2");
  const bool changed = mutate(in, msg2, ad);
  const bool ok = init.read_msg2(ad, msg2);
  check(ok == !changed, changed ? "an altered msg2 accepted" : "a genuine msg2 refused");
  if (ok) check_agree(init, resp);
}

void arbitrary_msg2(Reader& in) {
  NoiseIK init;
  std::array<uint8_t, 16> ad{};
  std::array<uint8_t, NoiseIK::kMsg1Size> msg1{};
  genuine_msg1(in, init, ad, msg1);
  std::array<uint8_t, NoiseIK::kMsg2Size> msg2{};
  in.bytes(msg2.data(), msg2.size());
  // Only the responder (its static key) can answer: arbitrary bytes do not.
  // (Finding the answer without it is the security of Noise IK itself.)
  check(!init.read_msg2(in.rest(), msg2), "arbitrary bytes accepted as msg2");
  check(!init.done(), "done() after a refused msg2");
}

void out_of_order(Reader& in) {
  NoiseIK a;
  std::array<uint8_t, NoiseIK::kMsg1Size> m1{};
  std::array<uint8_t, NoiseIK::kMsg2Size> m2{};
  PublicKey who{};
  in.bytes(m1.data(), m1.size());
  in.bytes(m2.data(), m2.size());
  const uint8_t order = in.u8();
  // Uninitialised: everything fails.
  check(!a.write_msg1({}, m1) && !a.read_msg1({}, m1, who) && !a.write_msg2({}, m2) &&
            !a.read_msg2({}, m2),
        "a call on an uninitialised handshake succeeded");
  if (order & 1) {
    a.init_responder(keys().r, kPrologue);
    check(!a.write_msg1({}, m1) && !a.read_msg2({}, m2) && !a.write_msg2({}, m2),
          "a responder call out of order succeeded");
  } else {
    a.init_initiator(keys().i, keys().r_pub, kPrologue);
    check(!a.read_msg1({}, m1, who) && !a.write_msg2({}, m2) && !a.read_msg2({}, m2),
          "an initiator call out of order succeeded");
  }
  // Failed calls leave the object unusable until the next init.
  check(!a.write_msg1({}, m1) && !a.read_msg1({}, m1, who), "a call after a failure succeeded");
  Secret x{}, y{};
  a.split(x, y);
  check(all_zero(x) && all_zero(y), "secrets from a failed handshake");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  switch (in.u8() % 5) {
    case 0:
      arbitrary_msg1(in);
      break;
    case 1:
      altered_msg1(in);
      break;
    case 2:
      altered_msg2(in);
      break;
    case 3:
      arbitrary_msg2(in);
      break;
    case 4:
      out_of_order(in);
      break;
  }
  return 0;
}
