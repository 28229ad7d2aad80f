#include "loop/poller.h"

#include <poll.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>

#include "loop/clock.h"

namespace srdx::dp {

std::string PollerConfig::validate() const {
  if (burst == 0 || burst > 4096) return "burst: " + std::to_string(burst) + "; 1 to 4096";
  if (tx_budget < burst) {
    return "tx_budget: " + std::to_string(tx_budget) + " is below burst (" + std::to_string(burst) +
           ")";
  }
  if (max_sleep <= Duration::zero() || max_sleep > Duration::seconds(1)) {
    return "max_sleep: must be within (0, 1 s]";
  }
  if (max_sleep_without_fd <= Duration::zero()) return "max_sleep_without_fd: must be positive";
  if (timer_slack < Duration::zero()) return "timer_slack: must not be negative";
  if (spin_time < Duration::zero() || spin_time > Duration::seconds(1))
    return "spin_time: must be within [0, 1 s]";
  return {};
}

Poller::Poller(Link& link, Endpoint& endpoint, const PollerConfig& cfg)
    : link_(link), ep_(endpoint), cfg_(cfg) {
  if (std::string err = cfg_.validate(); !err.empty()) {
    throw std::invalid_argument("poller: " + err);
  }
  rx_.resize(cfg_.burst);
}

size_t Poller::receive(Time now) {
  const size_t n = link_.rx_burst(rx_);
  const Time looked = last_empty_look_;
  if (n == 0) {
    last_empty_look_ = now;
    return 0;
  }
  last_empty_look_ = Time::zero();
  ++stats_.rx_bursts;
  stats_.rx_packets += n;
  // In run(), for a link that does not stamp arrivals (dpdk): what this
  // burst found arrived after the last look that found nothing (a nap of
  // the loop, typically): say the middle of that interval, so that the
  // engine's round-trip samples leave out the nap on average. Not in
  // poll_once() driven from outside (the simulator delivers at `now`).
  const Time guess = live_clock_ && looked > Time::zero() && looked < now
                         ? looked + (now - looked) / 2
                         : Time::zero();
  for (size_t i = 0; i < n; ++i) {
    // The datagram's source port is the remote's entropy (the path it took).
    const Time arrival = rx_[i].arrival > Time::zero() ? rx_[i].arrival : guess;
    const RxPath path{rx_[i].src, rx_[i].src.port, 0, arrival};
    if (on_packet_) {
      on_packet_(rx_[i], path, now);
    } else {
      ep_.on_packet(rx_[i].payload, path, now);
    }
  }
  return n;
}

size_t Poller::flush(size_t committed) {
  const size_t sent = link_.tx_flush();
  if (sent > 0) {
    ++stats_.tx_bursts;
    stats_.tx_packets += sent;
  }
  if (sent < committed) {
    // The link dropped and counted the rest; the transport's loss recovery
    // resends what mattered. Never spin on a full ring.
    ++stats_.partial_tx;
    stats_.tx_dropped += committed - sent;
  }
  return sent;
}

size_t Poller::transmit(Time now) {
  size_t total = 0, pending = 0;
  while (total < cfg_.tx_budget) {
    std::span<uint8_t> buf = link_.tx_buffer();
    if (buf.empty()) {
      ++stats_.tx_no_buffer;
      break;
    }
    TxPath path;  // fresh for each packet: nothing of the previous one's leaks
    const size_t len = ep_.poll_transmit(buf, path, now);
    if (len == 0) break;
    link_.tx_commit(len, path);
    ++total;
    if (++pending == cfg_.burst) {
      flush(pending);
      pending = 0;
      // The next packets leave now, not when the iteration began: their
      // send times start their round-trip samples.
      if (live_clock_) now = max(now, monotonic_now());
    }
  }
  if (total == cfg_.tx_budget) ++stats_.tx_budget_spent;
  // Always flush: a link may hold datagrams committed outside this loop, and
  // flushing also reaps its completions.
  flush(pending);
  return total;
}

bool Poller::poll_once(Time now) {
  ++stats_.iterations;
  size_t work = receive(now);
  size_t handled = work;  // packets and events: work whose time must count
  if (ep_.next_deadline() <= now) {
    ++stats_.timer_calls;
    ep_.on_timer(now);
    ++work;
  }
  Event ev;
  while (!events_paused_ && ep_.poll_event(ev)) {
    ++stats_.events;
    ++work;
    ++handled;
    if (on_event_) on_event_(ev, now);
  }
  if (on_tick_) on_tick_(now);
  // In run(), the clock again when this iteration received packets or
  // handed events up: what was done since `now` (decrypting, the handlers'
  // work on a message) is this host's time, and the ACK delay we report and
  // the send times of what leaves now must count it, or round-trip samples
  // read it as the network's queue. Not after a timer alone (the pacer's,
  // typically, once per iteration in a paced bulk flow): on_timer() is short,
  // and a second clock read per iteration costs more than it corrects (a
  // hypervisor exit on some VMs; issue 12).
  if (live_clock_ && handled > 0) now = max(now, monotonic_now());
  work += transmit(now);
  if (work == 0) ++stats_.idle_iterations;
  return work != 0;
}

void Poller::sleep_until(Time now, Time wake, bool armed) {
  if (wake <= now) return;
  if (!waker_.prepare_sleep()) {
    ++stats_.wakeups_by_call;  // work was handed to the loop: no sleep
    return;
  }
  const Duration d = wake - now;
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(d.ns() / 1000000000);
  ts.tv_nsec = static_cast<long>(d.ns() % 1000000000);
  ++stats_.idle_sleeps;
  if (armed) ++stats_.armed_sleeps;
  // The link's descriptor (packets arrived) where it has one, and the
  // waker's (work handed over by another thread).
  pollfd p[2] = {{waker_.fd(), POLLIN, 0}, {link_.wait_fd(), POLLIN, 0}};
  const nfds_t n = p[1].fd >= 0 ? 2 : 1;
  if (ppoll(p, n, &ts, nullptr) > 0) {
    if (n == 2 && (p[1].revents & POLLIN)) ++stats_.wakeups_by_link;
    if (p[0].revents & POLLIN) ++stats_.wakeups_by_call;
  }
  waker_.finish_sleep((p[0].revents & POLLIN) != 0);
  const Time woke = monotonic_now();
  stats_.slept_ns += static_cast<uint64_t>((woke - now).ns());
  if (woke > wake) {
    stats_.max_oversleep_ns =
        std::max(stats_.max_oversleep_ns, static_cast<uint64_t>((woke - wake).ns()));
  }
}

void Poller::note_iteration(Duration d) {
  const auto ns = static_cast<uint64_t>(std::max<int64_t>(d.ns(), 0));
  stats_.max_iteration_ns = std::max(stats_.max_iteration_ns, ns);
  if (d >= PollerStats::kLongIteration) ++stats_.long_iterations;
}

Time Poller::step(Time now) {
  if (poll_once(now)) {
    idle_in_a_row_ = 0;
    last_work_ = now;
    return now;
  }
  if (cfg_.idle != IdleMode::spin_then_sleep || ++idle_in_a_row_ < cfg_.spin_iterations ||
      now - last_work_ < cfg_.spin_time) {
    return now;
  }
  // Nothing to do: sleep until the endpoint has work, packets arrive, or
  // max_sleep has passed (stop requests are seen within max_sleep). The
  // count stays past spin_iterations: every idle iteration from here sleeps
  // until one does work.
  const Duration nap =
      link_.wait_fd() >= 0 ? cfg_.max_sleep : min(cfg_.max_sleep, cfg_.max_sleep_without_fd);
  return max(now, min(ep_.next_deadline(), now + nap));
}

void Poller::run(const std::atomic<bool>& stop) {
  if (cfg_.idle == IdleMode::spin_then_sleep && cfg_.timer_slack > Duration::zero()) {
    prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(cfg_.timer_slack.ns()), 0, 0, 0);
  }
  idle_in_a_row_ = 0;  // a fresh start spins before it sleeps
  live_clock_ = true;
  Time last = Time::infinite();  // the previous iteration's clock read, if no sleep followed it
  while (!stop.load(std::memory_order_relaxed)) {
    Time now = monotonic_now();
    if (!last.is_infinite()) note_iteration(now - last);
    last = now;
    Time wake = step(now);
    if (wake <= now) continue;
    bool armed = false;
    if (link_.wait_needs_arming() && link_.wait_fd() >= 0) {
      if (!link_.arm_wait()) {
        wake = min(wake, now + cfg_.max_sleep_without_fd);  // nothing would wake us: a nap
      } else {
        // Armed: look once more, since what arrived between the last look
        // and the arming may raise no interrupt. Sleep only if it found none.
        armed = true;
        const Time again = monotonic_now();
        const Time wake_again = step(again);
        if (wake_again <= again) {
          link_.disarm_wait();
          ++stats_.arm_rechecks_found_work;
          note_iteration(again - now);
          last = again;
          continue;
        }
        note_iteration(again - now);
        now = again;
        wake = wake_again;
      }
    }
    note_iteration(monotonic_now() - now);  // this iteration, up to the sleep
    last = Time::infinite();
    sleep_until(now, wake, armed);
    if (armed) link_.disarm_wait();
  }
  live_clock_ = false;
}

}  // namespace srdx::dp
