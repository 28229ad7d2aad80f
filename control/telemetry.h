// DPDK telemetry: when the dpdk link runs, the daemon's counters are also
// registered as telemetry commands, readable with dpdk-telemetry.py. Their
// replies are built from the same JSON documents as the control API's
// (api.h: counters_json, peer_json, paths_json), so the two cannot drift:
//   /srdx/counters          = GET /v1/counters (endpoint with drops, link
//                             with backend, poller, echo, api)
//   /srdx/link              = its "link" section alone
//   /srdx/peers             = GET /v1/peers: {"peers": {NAME: peer}}
//   /srdx/peers,NAME        = GET /v1/peers/NAME
//   /srdx/paths,NAME[,FIRST] = GET /v1/peers/NAME/paths, from path FIRST on
// Telemetry has no arrays of objects, no floating point, no booleans and
// keys of letters, digits, '_' and '/' only, so: an array of objects becomes
// a dict keyed by index ("0", "1", ...); a fractional time X_us becomes a
// whole X_ns; true/false become 1/0; other characters in keys become '_'
// (a peer's key; its exact name is its "name" field). A reply must fit
// DPDK's 16 KiB: /srdx/peers and /srdx/paths hold the entries that fit and
// count the rest in "omitted" (read them with /srdx/peers,NAME or a larger
// FIRST). An unknown peer, or /srdx/paths without NAME, answers null.
// A build without DPDK registers nothing.
#pragma once

namespace srdx::ctl {
class ApiServer;
class Daemon;
// api: the control API, for its request counters (may be null: zeros).
void register_telemetry(Daemon* d, const ApiServer* api);
// The callbacks answer null from now on (the daemon is going away); waits
// for a callback still reading the daemon.
void unregister_telemetry();
}  // namespace srdx::ctl
