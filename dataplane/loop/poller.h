// The poll loop: run to completion on one core, like a DPDK l2fwd lcore.
//
// One Poller drives one Link and one Endpoint. Each iteration reads the
// monotonic clock once and passes that `now` to everything it calls:
//
//   1. rx: link.rx_burst() -> endpoint.on_packet() for each datagram (or
//      the packet handler, which passes it on)
//   2. timers: endpoint.on_timer(now) when next_deadline() <= now
//   3. events: endpoint.poll_event() -> the event handler (unless events are
//      paused), then the tick handler (where an application sends; both may
//      call endpoint.send())
//   4. tx: while the link has a buffer and poll_transmit() fills it,
//      tx_commit(); tx_flush() every `burst` packets and at the end. What a
//      flush could not send is counted (partial_tx, tx_dropped), never retried.
//
// Events are handled before transmitting so that what a handler sends (an
// echo, the next message of a window) leaves in the same iteration. So a
// handler also holds back what the engine already has to send, the ACKs of
// what was just received among it: handlers must stay short. A loop that
// stops for the peer timeout (200 ms by default) is taken for dead by its
// peers, which fail the messages they had in flight to it. PollerStats'
// max_iteration_ns and max_oversleep_ns say how long the loop stopped.
//
// Idle back-off: with IdleMode::busy_poll the loop never sleeps (a dedicated
// core, lowest latency). With IdleMode::spin_then_sleep, after
// `spin_iterations` iterations in a row that did nothing, it sleeps until the
// endpoint's next deadline, at most `max_sleep`, or until the link's
// wait_fd() becomes readable (packets arrived), or until another thread
// calls wake() (it handed the loop messages to send or a command: waker.h);
// a link without a wait_fd is re-polled after at most `max_sleep_without_fd`.
// A link whose wait_fd() must be armed first (the dpdk link on Rx
// interrupts, link.h) is armed, polled once more, and only then slept on,
// and disarmed on waking; if it cannot be armed, the loop naps as without
// a wait_fd. This lets two pollers and a kernel router share a 2-core machine. step() is one
// iteration with that decision but without the clock read and the sleep, so that tests drive the
// back-off with a clock of their own.
//
// Arrival times: a datagram's RxPath::arrival is the link's receive
// timestamp (the udp link's kernel time); for a link without one, run()
// says a burst found after an empty look arrived halfway between the two
// looks (a nap, on the dpdk link), so the engine's congestion control does
// not read the loop's naps as the network's queue. poll_once() driven from
// outside leaves it unknown (zero).
//
// The Poller holds no globals; its owner stops it through an atomic flag that
// is checked once per iteration (so within max_sleep of being set). Signal
// handling belongs to the application.
//
// The simulator runs this same loop: each simulated host (sim/host.h) is a
// Poller over a sim::HostLink, stepped with poll_once(now) in simulated time,
// so the sim, property and behaviour suites exercise the loop that ships
// (all of an iteration; not the idle back-off, since simulated time jumps
// to the next event instead of sleeping).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "../link.h"
#include "srdx/endpoint.h"
#include "srdx/time.h"
#include "waker.h"  // same folder  // dataplane/link.h, never sim/link.h (a fabric path) in sim targets

namespace srdx::dp {

enum class IdleMode : uint8_t {
  busy_poll,        // never sleep
  spin_then_sleep,  // spin, then sleep on the link's fd / the next deadline
};

struct PollerConfig {
  IdleMode idle = IdleMode::spin_then_sleep;
  // Idle iterations in a row before the first sleep.
  uint32_t spin_iterations = 200;
  // The busy-poll window after activity, in time: after an iteration that
  // did work, the loop also keeps spinning until this long has passed
  // before it sleeps. A count of iterations lasts as long as they take; a
  // time says what an answer may wait. Zero: spin_iterations alone.
  Duration spin_time = Duration::zero();
  // The longest one sleep lasts: bounds how late a stop request or a packet
  // on a link without wait_fd() is seen.
  Duration max_sleep = Duration::millis(1);
  // The same bound for a link without wait_fd() (dpdk): nothing wakes the
  // loop when packets arrive, so it sleeps in short naps.
  Duration max_sleep_without_fd = Duration::micros(50);
  // Datagrams per rx_burst(), and packets committed between two tx_flush().
  uint32_t burst = 32;
  // Packets transmitted per iteration at most, so that receiving (and with it
  // acknowledgements) is never starved by a large window.
  uint32_t tx_budget = 256;
  // Timer slack for the polling thread (prctl PR_SET_TIMERSLACK) while it
  // sleeps in spin_then_sleep mode: the kernel's default of 50 us would delay
  // every wake-up for a microsecond-scale transport. Zero leaves it alone.
  Duration timer_slack = Duration::micros(1);

  // Empty when usable; otherwise one line naming the field.
  std::string validate() const;
};

struct PollerStats {
  uint64_t iterations = 0;
  uint64_t idle_iterations = 0;  // did nothing: no packet in or out, no timer, no event
  uint64_t idle_sleeps = 0;      // times the loop went to sleep
  uint64_t wakeups_by_link = 0;  // sleeps ended by the link's fd
  uint64_t wakeups_by_call = 0;  // sleeps ended (or skipped) by wake()
  uint64_t slept_ns = 0;         // time spent asleep
  // Links whose wait_fd() must be armed (link.h: the dpdk link on Rx
  // interrupts): sleeps that went armed, and re-polls just after arming that
  // found work (the loop did not sleep then).
  uint64_t armed_sleeps = 0, arm_rechecks_found_work = 0;
  uint64_t rx_bursts = 0, rx_packets = 0;  // non-empty bursts
  uint64_t tx_bursts = 0, tx_packets = 0;  // flushes that sent something; packets sent
  uint64_t partial_tx = 0;                 // flushes that sent fewer than were committed
  uint64_t tx_dropped = 0;                 // packets those flushes did not send
  uint64_t tx_no_buffer = 0;               // iterations that stopped because the link had no buffer
  uint64_t tx_budget_spent = 0;            // iterations that stopped at tx_budget
  uint64_t timer_calls = 0;                // on_timer() calls
  uint64_t events = 0;
  // Stalls, measured by run() (poll_once() alone does not read the clock).
  // An iteration's length is from its clock read to the next one's when no
  // sleep came between: its own work (the handlers' included) plus any time
  // the thread was not scheduled. A sleep's overrun is how much longer than
  // asked it lasted. Either, past the peer's timeout, looks to the peer like
  // a dead endpoint.
  uint64_t max_iteration_ns = 0;  // the longest iteration
  uint64_t long_iterations = 0;   // iterations of kLongIteration or more
  uint64_t max_oversleep_ns = 0;  // the longest overrun of a sleep
  static constexpr Duration kLongIteration = Duration::millis(1);
};

class Poller {
 public:
  // Called for each endpoint event. A message_received event's data is valid
  // only during the call.
  using EventHandler = std::function<void(const Event& ev, Time now)>;
  // Called once per iteration after the events: the place to send.
  using TickHandler = std::function<void(Time now)>;
  // Called for each received datagram instead of endpoint.on_packet(), with
  // the path the poller made of it; it must pass the datagram on itself. For
  // a harness that accounts for what each datagram did (the simulator's
  // taint counters) or a capture. The payload is valid only during the call.
  using PacketHandler = std::function<void(const RxDatagram& d, const RxPath& path, Time now)>;

  // The link and the endpoint must outlive the poller. Throws
  // std::invalid_argument when cfg.validate() refuses the configuration.
  Poller(Link& link, Endpoint& endpoint, const PollerConfig& cfg = {});

  void on_event(EventHandler h) { on_event_ = std::move(h); }
  void on_tick(TickHandler h) { on_tick_ = std::move(h); }
  void on_packet(PacketHandler h) { on_packet_ = std::move(h); }

  // While paused the poller does not take events from the endpoint: received
  // messages stay there, and the endpoint's receive window closes on the
  // sender (an application applying back-pressure, a reader that stalls).
  // Packets, timers and the tick go on.
  void pause_events(bool paused) { events_paused_ = paused; }
  bool events_paused() const { return events_paused_; }

  // Runs iterations until `stop` is true, reading the monotonic clock and
  // backing off when idle as configured.
  void run(const std::atomic<bool>& stop);

  // One iteration at `now`, no clock read and no sleep (the simulator, tests,
  // or an application's own loop). Returns true when it did anything.
  bool poll_once(Time now);

  // One iteration of run() at `now` with its idle back-off, without the
  // clock read and the sleep: returns when the loop should iterate next.
  // `now` to go on at once (the iteration did work, or spin_iterations idle
  // ones in a row have not passed yet, or busy_poll); later when it may
  // sleep until then: the endpoint's next deadline, at most max_sleep (or
  // max_sleep_without_fd for a link without wait_fd()) ahead, the link's
  // descriptor ending the sleep early. run() is this, the clock and the sleep.
  Time step(Time now);

  // Any thread: a sleep of run() ends at once (waker.h). For a thread that
  // hands the loop work: messages to send on its tick, a command.
  void wake() { waker_.wake(); }

  const PollerStats& stats() const { return stats_; }
  const PollerConfig& config() const { return cfg_; }
  Link& link() { return link_; }
  Endpoint& endpoint() { return ep_; }

 private:
  size_t receive(Time now);
  size_t transmit(Time now);
  size_t flush(size_t committed);
  void sleep_until(Time now, Time wake, bool armed);
  void note_iteration(Duration d);

  Link& link_;
  Endpoint& ep_;
  PollerConfig cfg_;
  PollerStats stats_;
  EventHandler on_event_;
  TickHandler on_tick_;
  PacketHandler on_packet_;
  bool events_paused_ = false;
  bool live_clock_ = false;              // in run(): poll_once() may read the clock again before tx
  Time last_empty_look_ = Time::zero();  // the last empty rx_burst() (zero: the last found some)
  uint32_t idle_in_a_row_ = 0;           // step(): idle iterations since the last that did work
  Time last_work_ = Time::zero();        // step(): when an iteration last did work
  std::vector<RxDatagram> rx_;
  Waker waker_;
};

}  // namespace srdx::dp
