// eal.h: the arguments EAL gets (pure), and the environment every dpdk_link
// test shares: EAL starts once per process, so it starts here.
#include "dpdk/eal.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace srdx::dp {
namespace {

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(EalPlan, NoHugepagesAddsNoHugeAndNoPciForAVdev) {
  const EalPlan p = plan_eal_args({}, "net_null0", /*hugepages=*/false, 42);
  EXPECT_EQ(p.args, (std::vector<std::string>{"srdx", "--no-huge", "-m", "256", "--no-pci",
                                              "--file-prefix=srdx-42"}));
  EXPECT_NE(p.note.find("no free hugepages"), std::string::npos);
  EXPECT_EQ(p.note.find('\n'), std::string::npos);
}

TEST(EalPlan, PciDeviceKeepsPci) {
  const EalPlan p = plan_eal_args({}, "0000:00:05.0", false, 7);
  EXPECT_TRUE(has(p.args, "--no-huge"));
  EXPECT_FALSE(has(p.args, "--no-pci"));
}

TEST(EalPlan, HugepagesAddOnlyTheFilePrefix) {
  const EalPlan p = plan_eal_args({"-l", "1"}, "net_null0", true, 9);
  EXPECT_EQ(p.args, (std::vector<std::string>{"srdx", "-l", "1", "--file-prefix=srdx-9"}));
  EXPECT_TRUE(p.note.empty());
}

TEST(EalPlan, ArgumentsThatChooseMemoryOrPrefixAreKept) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--no-huge"}, {"-m", "512"}, {"-m512"}, {"--socket-mem=64"}, {"--in-memory"}}) {
    const EalPlan p = plan_eal_args(args, "net_null0", false, 1);
    EXPECT_EQ(std::count(p.args.begin(), p.args.end(), "--no-huge"), args[0] == "--no-huge" ? 1 : 0)
        << args[0];
    EXPECT_TRUE(p.note.empty()) << args[0];
  }
  const EalPlan p =
      plan_eal_args({"--file-prefix", "mine", "-a", "0000:00:05.0"}, "net_null0", false, 1);
  EXPECT_FALSE(has(p.args, "--file-prefix=srdx-1"));
  EXPECT_FALSE(has(p.args, "--no-pci"));  // an allow list says what PCI to use
}

TEST(EalPlan, AfXdpProbesWithoutPreferredBusyPolling) {
  EXPECT_EQ(probe_spec("net_af_xdp0,iface=veth0"), "net_af_xdp0,iface=veth0,busy_budget=0");
  EXPECT_EQ(probe_spec("net_af_xdp"), "net_af_xdp,busy_budget=0");
  EXPECT_EQ(probe_spec("net_af_xdp0,iface=veth0,busy_budget=64"),
            "net_af_xdp0,iface=veth0,busy_budget=64");  // the user's choice stays
  EXPECT_EQ(probe_spec("net_af_xdp1,busy_budget=0,iface=v"), "net_af_xdp1,busy_budget=0,iface=v");
  EXPECT_EQ(probe_spec("net_af_packet0,iface=veth0"), "net_af_packet0,iface=veth0");
  EXPECT_EQ(probe_spec("net_null0"), "net_null0");
  EXPECT_EQ(probe_spec("0000:00:05.0"), "0000:00:05.0");
}

TEST(EalPlan, DeviceKinds) {
  EXPECT_TRUE(is_vdev("net_null0"));
  EXPECT_TRUE(is_vdev("net_af_xdp0,iface=veth0"));
  EXPECT_TRUE(is_vdev("net_ring_a"));
  EXPECT_FALSE(is_vdev("0000:00:05.0"));
  EXPECT_FALSE(is_vdev("00:05.0"));
  EXPECT_FALSE(is_vdev("0000:00:05.0,llq_policy=1"));
  EXPECT_FALSE(is_vdev("3"));
  EXPECT_FALSE(is_vdev(""));
}

}  // namespace
}  // namespace srdx::dp
