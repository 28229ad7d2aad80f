// Control API request validation: pure functions, also fuzzed (fuzz/api_fuzz.cc).
#include "request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace srdx::ctl;
using ::testing::HasSubstr;

namespace {

TEST(ProbeRequest, DefaultsAndFields) {
  ProbeRequest r;
  ASSERT_EQ(parse_probe_request(R"({"peer":"b"})", r), "");
  EXPECT_EQ(r.peer, "b");
  EXPECT_EQ(r.transport, ProbeTransport::both);
  EXPECT_EQ(r.size, 64u);
  EXPECT_EQ(r.count, 1000u);
  EXPECT_EQ(r.interval_us, 0u);
  ASSERT_EQ(
      parse_probe_request(
          R"({"peer":"b","transport":"tcp","size":65536,"count":3600,"interval_us":1000000,"lease_s":0})",
          r),
      "");
  EXPECT_EQ(r.transport, ProbeTransport::tcp);
  EXPECT_EQ(r.size, 65536u);
  EXPECT_EQ(r.count, 3600u);
  EXPECT_EQ(r.interval_us, 1000000u);
  EXPECT_EQ(r.lease_s, 0u);
  ASSERT_EQ(parse_probe_request(R"({"peer":"b","count":1000000,"interval_us":3600})", r), "");
  EXPECT_EQ(r.lease_s, 30u);
  ASSERT_EQ(parse_probe_request(R"({"transport":"srdx","peer":"x.y-z_1","size":1,"count":1})", r),
            "");
  EXPECT_EQ(r.transport, ProbeTransport::srdx);
}

TEST(ProbeRequest, Refusals) {
  ProbeRequest r;
  EXPECT_THAT(parse_probe_request("", r), HasSubstr("malformed JSON"));
  EXPECT_THAT(parse_probe_request("{", r), HasSubstr("malformed JSON"));
  EXPECT_THAT(parse_probe_request(R"({"peer":"b"} x)", r), HasSubstr("malformed JSON"));
  EXPECT_EQ(parse_probe_request("[1]", r), "the body must be a JSON object");
  EXPECT_EQ(parse_probe_request("{}", r), "peer: required (a configured peer's name)");
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","colour":"red"})", r),
            "unknown field \"colour\"; accepted: peer, transport, size, count, interval_us, "
            "lease_s");
  // count x interval_us is capped: a probe cannot be made to run for days.
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","count":1000000,"interval_us":1000000})", r),
            "count x interval_us: 1000000 x 1000000 us is 1000000 s of pings; the limit is 3600 "
            "s per probe: fewer pings or a shorter interval");
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","count":3601,"interval_us":1000000})", r),
            "count x interval_us: 3601 x 1000000 us is 3601 s of pings; the limit is 3600 s per "
            "probe: fewer pings or a shorter interval");
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","lease_s":3601})", r),
            "lease_s: 3601 is out of range; accepted: an integer in [0, 3600]");
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","size":0})", r),
            "size: 0 is out of range; accepted: an integer in [1, 65536]");
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","size":65537})", r),
            "size: 65537 is out of range; accepted: an integer in [1, 65536]");
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","count":-1})", r),
            "count: -1 is out of range; accepted: an integer in [1, 1000000]");
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","count":1.5})", r),
            "count: 1.5 is not an integer; accepted: an integer in [1, 1000000]");
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","interval_us":"10"})", r),
            "interval_us: a string is not an integer; accepted: an integer in [0, 1000000]");
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","count":18446744073709551615})", r),
            "count: 18446744073709551615 is out of range; accepted: an integer in [1, 1000000]");
  // An exponent, or an integer past 64 bits (JSON gives both as floating
  // point): not "must be a number", but what is accepted.
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","count":1e3})", r),
            "count: 1000.0 is not an integer; accepted: an integer in [1, 1000000]");
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","count":123456789012345678901234567890})", r),
            "count: 1.2345678901234568e+29 is not an integer; accepted: an integer in [1, "
            "1000000]");
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","size":true})", r),
            "size: true or false is not an integer; accepted: an integer in [1, 65536]");
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","size":null})", r),
            "size: null is not an integer; accepted: an integer in [1, 65536]");
  EXPECT_EQ(parse_probe_request(R"({"peer":"b","transport":"udp"})", r),
            "transport: unknown transport; accepted: \"srdx\", \"tcp\", \"both\"");
  EXPECT_EQ(parse_probe_request(R"({"peer":7})", r),
            "peer: must be a string (a configured peer's name)");
  EXPECT_THAT(parse_probe_request(R"({"peer":"../etc"})", r), HasSubstr("not a peer name"));
  EXPECT_EQ(parse_probe_request(std::string(kMaxRequestBody + 1, ' '), r),
            "request body too large");
}

TEST(ProbeId, Parse) {
  uint64_t id = 0;
  EXPECT_TRUE(parse_probe_id("1", id));
  EXPECT_EQ(id, 1u);
  EXPECT_TRUE(parse_probe_id("123456789012345678", id));
  EXPECT_FALSE(parse_probe_id("0", id));
  EXPECT_FALSE(parse_probe_id("01", id));
  EXPECT_FALSE(parse_probe_id("1234567890123456789", id));
  EXPECT_FALSE(parse_probe_id("1a", id));
  EXPECT_FALSE(parse_probe_id("", id));
}

TEST(Bearer, Matches) {
  EXPECT_TRUE(bearer_matches("Bearer abc", "abc"));
  EXPECT_FALSE(bearer_matches("Bearer abd", "abc"));
  EXPECT_FALSE(bearer_matches("bearer abc", "abc"));
  EXPECT_FALSE(bearer_matches("Bearer abc ", "abc"));
  EXPECT_FALSE(bearer_matches("", "abc"));
  EXPECT_FALSE(bearer_matches("Bearer ", ""));
}

TEST(ErrorJson, Escapes) {
  EXPECT_EQ(error_json("a \"b\"\n"), R"({"error":"a \"b\"\n"})");
  EXPECT_EQ(error_json(std::string("bad \xff byte")), "{\"error\":\"bad \xEF\xBF\xBD byte\"}");
}

}  // namespace

TEST(ReplicationRequest, GoodAndDefaults) {
  ReplicationRequest r;
  ASSERT_EQ(parse_replication_request(R"({"name":"ehr","source":"/data/ehr","peer":"b"})", r), "");
  EXPECT_EQ(r.name, "ehr");
  EXPECT_EQ(r.source, "/data/ehr");
  EXPECT_EQ(r.peer, "b");
  EXPECT_EQ(r.mode, "durable");
  EXPECT_TRUE(r.continuous);
  EXPECT_EQ(r.chunk_size, 1u << 20);
  ASSERT_EQ(
      parse_replication_request(
          R"({"name":"x","source":"/d","peer":"b","mode":"async","include":["*.ndjson","hl7/*"],"continuous":false,"chunk_size":65536})",
          r),
      "");
  EXPECT_EQ(r.mode, "async");
  EXPECT_EQ(r.include, (std::vector<std::string>{"*.ndjson", "hl7/*"}));
  EXPECT_FALSE(r.continuous);
  EXPECT_EQ(r.chunk_size, 65536u);
}

TEST(ReplicationRequest, BadOnesAreOneClearLine) {
  ReplicationRequest r;
  EXPECT_EQ(parse_replication_request(R"({"source":"/d","peer":"b"})", r),
            "name: required (the job's name, e.g. \"ehr\")");
  EXPECT_EQ(parse_replication_request(R"({"name":"e","peer":"b"})", r),
            "source: required (the absolute directory to replicate)");
  EXPECT_EQ(parse_replication_request(R"({"name":"e","source":"/d"})", r),
            "peer: required (a configured peer's name: the DR appliance)");
  EXPECT_EQ(parse_replication_request(R"({"name":"e","source":"/d","peer":"b","mode":"fast"})", r),
            "mode: \"fast\" is not a mode; accepted: \"durable\", \"received\", \"async\"");
  EXPECT_EQ(parse_replication_request(R"({"name":"e","source":"rel","peer":"b"})", r),
            "source: \"rel\" is not an absolute path; accepted: /path/to/dir");
  EXPECT_THAT(parse_replication_request(R"({"name":"../x","source":"/d","peer":"b"})", r),
              HasSubstr("is not a job name"));
  EXPECT_THAT(parse_replication_request(R"({"name":"..","source":"/d","peer":"b"})", r),
              HasSubstr("is not a job name"));
  EXPECT_EQ(
      parse_replication_request(R"({"name":"e","source":"/d","peer":"b","chunk_size":5000})", r),
      "chunk_size: 5000 is not a power of two; accepted: 4096, 8192, ... 16777216");
  EXPECT_THAT(
      parse_replication_request(R"({"name":"e","source":"/d","peer":"b","include":"*"})", r),
      HasSubstr("include: must be an array"));
  EXPECT_THAT(parse_replication_request(R"({"name":"e","source":"/d","peer":"b","x":1})", r),
              HasSubstr("unknown field \"x\""));
  EXPECT_THAT(parse_replication_request("[1]", r), HasSubstr("JSON object"));
  EXPECT_THAT(parse_replication_request("{", r), HasSubstr("malformed JSON"));
}
