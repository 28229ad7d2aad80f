#include "dpdk/eal.h"

#include <pthread.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_timer.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>

namespace srdx::dp {
namespace {

bool has_option(const std::vector<std::string>& args, std::string_view name) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& a) {
    if (a == name) return true;
    // --opt=value, and short options glued to their value (-m256, -a0000:..).
    if (name.starts_with("--")) return a.starts_with(std::string(name) + "=");
    return name.size() == 2 && a.starts_with(name) && a.size() > 2 && !a.starts_with("--");
  });
}

std::string join(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

std::mutex g_mu;
bool g_done = false;
std::string g_error;  // set when the one attempt failed

}  // namespace

bool is_vdev(std::string_view device) {
  if (device.empty()) return false;
  if (std::all_of(device.begin(), device.end(), [](char c) { return std::isdigit(c) != 0; })) {
    return false;  // a port id
  }
  // PCI: [domain:]bus:devid.function, hex digits.
  std::string_view name = device.substr(0, device.find(','));
  const bool pci_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
  });
  const bool pci = pci_chars && name.find(':') != std::string_view::npos &&
                   name.find('.') != std::string_view::npos;
  return !pci;
}

std::string probe_spec(std::string_view device) {
  std::string spec(device);
  const std::string_view name = device.substr(0, device.find(','));
  if (!name.starts_with("net_af_xdp")) return spec;
  // Devargs are "key=value" items after the name, separated by commas.
  for (size_t at = device.find(','); at != std::string_view::npos; at = device.find(',', at + 1)) {
    if (device.substr(at + 1).starts_with("busy_budget=")) return spec;
  }
  return spec + ",busy_budget=0";
}

bool hugepages_available() {
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    if (line.starts_with("HugePages_Free:")) {
      if (std::stol(line.substr(15)) > 0) return true;
    }
  }
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator("/sys/kernel/mm/hugepages", ec)) {
    std::ifstream f(d.path() / "free_hugepages");
    long n = 0;
    if (f >> n && n > 0) return true;
  }
  return false;
}

EalPlan plan_eal_args(const std::vector<std::string>& user_args, std::string_view device,
                      bool hugepages, int pid) {
  EalPlan plan;
  plan.args.push_back("srdx");
  plan.args.insert(plan.args.end(), user_args.begin(), user_args.end());
  const bool memory_chosen = has_option(user_args, "--no-huge") || has_option(user_args, "-m") ||
                             has_option(user_args, "--socket-mem") ||
                             has_option(user_args, "--in-memory") ||
                             has_option(user_args, "--huge-dir");
  if (!hugepages && !memory_chosen) {
    plan.args.insert(plan.args.end(), {"--no-huge", "-m", "256"});
    std::string added = "--no-huge -m 256";
    const bool pci_chosen = has_option(user_args, "--no-pci") || has_option(user_args, "-a") ||
                            has_option(user_args, "--allow") || has_option(user_args, "-b") ||
                            has_option(user_args, "--block");
    if (is_vdev(device) && !pci_chosen) {
      plan.args.push_back("--no-pci");
      added += " --no-pci";
    }
    plan.note = "srdx: no free hugepages (HugePages_Free is 0), so EAL gets " + added;
  }
  if (!has_option(user_args, "--file-prefix")) {
    plan.args.push_back("--file-prefix=srdx-" + std::to_string(pid));
  }
  return plan;
}

bool lcores_chosen(const std::vector<std::string>& user_args) {
  return has_option(user_args, "-l") || has_option(user_args, "-c") ||
         has_option(user_args, "--lcores") || has_option(user_args, "--main-lcore");
}

bool eal_initialised() {
  std::lock_guard lock(g_mu);
  return g_done;
}

void eal_init(const std::vector<std::string>& user_args, std::string_view device) {
  std::lock_guard lock(g_mu);
  if (g_done) return;
  if (!g_error.empty()) throw std::runtime_error(g_error);
  // EAL may keep pointers into argv: the strings live as long as the process.
  static EalPlan plan;
  plan = plan_eal_args(user_args, device, hugepages_available(), getpid());
  if (!plan.note.empty()) std::fprintf(stderr, "%s\n", plan.note.c_str());
  std::vector<char*> argv;
  for (auto& a : plan.args) argv.push_back(a.data());
  argv.push_back(nullptr);
  cpu_set_t allowed;  // the CPUs this thread may run on before EAL pins it
  CPU_ZERO(&allowed);
  const bool unpin = !lcores_chosen(user_args) &&
                     pthread_getaffinity_np(pthread_self(), sizeof allowed, &allowed) == 0;
  const int rc = rte_eal_init(static_cast<int>(argv.size() - 1), argv.data());
  // Best effort: a thread left pinned still works, only less well.
  if (rc >= 0 && unpin) (void)pthread_setaffinity_np(pthread_self(), sizeof allowed, &allowed);
  if (rc < 0) {
    if (rte_errno == EALREADY) {  // someone else in this process did it
      g_done = true;
      return;
    }
    g_error = "dpdk: rte_eal_init(" + join(plan.args) + ") failed: " + rte_strerror(rte_errno);
    throw std::runtime_error(g_error);
  }
  // DPDK timers, before any port starts: the ENA PMD arms its watchdog
  // (which raises RESET) as one when its port starts. -EALREADY: done.
  (void)rte_timer_subsystem_init();
  g_done = true;
}

void eal_run_timers() {
  if (!eal_initialised() || rte_lcore_id() != rte_get_main_lcore()) return;
  (void)rte_timer_manage();
}

}  // namespace srdx::dp
