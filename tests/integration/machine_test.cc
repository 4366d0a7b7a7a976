// Runs the example and test guests through the Machine API and checks console output, verdicts,
// instruction counts and crash reports.
#include "sim/machine/machine.h"

#include <gtest/gtest.h>

#include <vector>

#include "sim/core/status.h"
#include "tests/support/guests.h"

namespace hvsim {
namespace {

MachineParams params(const std::string& name, unsigned vcpus = 1) {
  MachineParams p;
  p.guest = test::guest(name);
  p.vcpus = vcpus;
  p.echo_console = false;
  p.max_time = VirtualTime::from_ms(50);
  return p;
}

}  // namespace

TEST(Machine, HelloPrintsAndExitsZero) {
  Machine m(params("hello"));
  Verdict v = m.run();
  EXPECT_EQ(v.kind, Verdict::Kind::kExit);
  EXPECT_EQ(v.status(), 0);
  EXPECT_NE(m.console_output().find("Hello from hvsim guest, vp 0 of 1"), std::string::npos);
  EXPECT_NE(m.console_output().find("RAM 64 MiB"), std::string::npos);
}

TEST(Machine, ExitCodeAndExactInstructionCount) {
  Machine m(params("exit42"));
  Verdict v = m.run();
  EXPECT_EQ(v.exit_code, 42u);
  EXPECT_EQ(v.status(), 1);
  // exit42: mov eax, 42; mov edx, 0xf4; out dx, eax -- the run ends as the out retires; the
  // cli; hlt after it in the same block do not count.
  EXPECT_EQ(m.retired(0), 3u);
  EXPECT_EQ(m.now(), VirtualTime::from_ps(1500));  // 3 cycles at 2 GHz
}

TEST(Machine, GuestHandlesItsOwnFaults) {
  Machine m(params("faults"));
  Verdict v = m.run();
  EXPECT_EQ(v.status(), 0) << m.console_output();
  EXPECT_NE(m.console_output().find("faults: 7 of 7 checks passed"), std::string::npos) << m.console_output();
}

TEST(Machine, PrivilegeLevelsSyscallAndTrapsFromUserMode) {
  Machine m(params("usermode"));
  Verdict v = m.run();
  EXPECT_EQ(v.status(), 0) << m.console_output();
  EXPECT_NE(m.console_output().find("usermode: all checks passed"), std::string::npos) << m.console_output();
}

TEST(Machine, QuantumNeverChangesASingleVcpuRun) {
  for (const char* guest : {"usermode", "faults"}) {
    std::string console;
    uint64_t retired = 0;
    for (uint64_t quantum : {100000ull, 997ull, 7ull}) {
      MachineParams p = params(guest);
      p.quantum = quantum;
      Machine m(p);
      Verdict v = m.run();
      EXPECT_EQ(v.status(), 0) << guest << " quantum " << quantum << "\n" << m.console_output();
      if (console.empty()) {
        console = m.console_output();
        retired = m.retired(0);
      }
      EXPECT_EQ(m.console_output(), console) << guest << " quantum " << quantum;
      EXPECT_EQ(m.retired(0), retired) << guest << " quantum " << quantum;
    }
  }
}

TEST(Machine, VmcallAndVmmcallReachTheHypercallHandler) {
  Machine m(params("hypercall"));
  std::vector<uint64_t> controls;
  m.set_hypercall_handler([&](VcpuContext& v) {
    controls.push_back(v.reg(Reg::kRcx));
    v.set_reg(Reg::kRax, controls.size() * 10);
    return HypercallResult::kDone;
  });
  Verdict v = m.run();
  EXPECT_EQ(v.exit_code, 30u);  // 10 + 20
  EXPECT_EQ(controls, (std::vector<uint64_t>{0x1234, 0x5678}));
  EXPECT_EQ(m.retired(0), 8u);  // through the exiting out
}

TEST(Machine, VmcallWithoutAnEnabledHypercallPageIsUndefined) {
  Machine m(params("hypercall"));  // the guest never enables the hypercall page
  Verdict v = m.run();
  EXPECT_EQ(v.kind, Verdict::Kind::kCrash);
  EXPECT_NE(v.message.find("unhandled #UD"), std::string::npos) << v.message;
  EXPECT_NE(v.report.find("=> 0x0000000000100005:  vmcall"), std::string::npos) << v.report;
}

TEST(Machine, UnhandledExceptionIsACrashWithDisassembly) {
  Machine m(params("nohandler"));
  Verdict v = m.run();
  EXPECT_EQ(v.kind, Verdict::Kind::kCrash);
  EXPECT_EQ(v.status(), 3);
  EXPECT_NE(v.message.find("unhandled #UD (triple fault)"), std::string::npos) << v.message;
  EXPECT_NE(v.report.find("=> 0x0000000000100000:  ud2"), std::string::npos) << v.report;
  EXPECT_NE(v.report.find("rip    0x0000000000100000"), std::string::npos);
  EXPECT_EQ(m.retired(0), 0u);  // ud2 never retired
}

TEST(Machine, UnknownMsrRaisesGp) {
  Machine m(params("unknown_msr_nohandler"));
  Verdict v = m.run();
  EXPECT_EQ(v.kind, Verdict::Kind::kCrash);
  EXPECT_NE(v.message.find("unhandled #GP"), std::string::npos) << v.message;
  EXPECT_NE(v.report.find("rdmsr"), std::string::npos);
}

TEST(Machine, AccessOutsideRamIsACrashNamingTheAddress) {
  Machine m(params("wild_read"));
  Verdict v = m.run();
  EXPECT_EQ(v.kind, Verdict::Kind::kCrash);
  EXPECT_NE(v.message.find("read from guest-physical address 0xc0000000 outside guest RAM"), std::string::npos) << v.message;
}

TEST(Machine, EndlessLoopHitsTheVirtualTimeWatchdog) {
  MachineParams p = params("spin");
  p.max_time = VirtualTime::from_ms(2);
  Machine m(p);
  Verdict v = m.run();
  EXPECT_EQ(v.kind, Verdict::Kind::kWatchdog);
  EXPECT_EQ(v.status(), 4);
  EXPECT_EQ(m.now(), VirtualTime::from_ms(2));
  EXPECT_EQ(m.retired(0), 4000000u);  // 2 ms at 2 GHz, one instruction per cycle
}

TEST(Machine, EveryVcpuHaltedForGoodIsAWatchdogVerdict) {
  Machine m(params("halt_forever"));
  Verdict v = m.run();
  EXPECT_EQ(v.kind, Verdict::Kind::kWatchdog);
  EXPECT_NE(v.message.find("nothing is left that could wake one"), std::string::npos);
  EXPECT_LT(m.now(), VirtualTime::from_us(1));  // time did not run on to the limit
}

TEST(Machine, HostInterruptWakesAHaltedGuestThroughItsIdt) {
  Machine m(params("irq_wait"));
  m.events().schedule(VirtualTime::from_us(20), EventPriority::kHost, [&] { m.raise_interrupt(0, 0x40); });
  Verdict v = m.run();
  EXPECT_EQ(v.status(), 0) << m.console_output();
  EXPECT_NE(m.console_output().find("irq 0x40 taken"), std::string::npos) << m.console_output();
  EXPECT_GE(m.now(), VirtualTime::from_us(20));  // the halted vCPU idled until the interrupt
}

TEST(Machine, InterruptWindowOpensAtTheExactBoundary) {
  Machine m(params("irq_window"));
  Verdict v = m.run();
  EXPECT_EQ(v.status(), 0) << m.console_output();
  EXPECT_NE(m.console_output().find("irq_window: ok"), std::string::npos) << m.console_output();
}

TEST(Machine, TscFrequencyChangeKeepsTheGuestClockConsistent) {
  Machine m(params("tsc_migrate"));
  m.events().schedule(VirtualTime::from_us(200), EventPriority::kScenario, [&] { m.change_tsc_frequency(3000000000); });
  m.tracer().enable_capture();
  Verdict v = m.run();
  EXPECT_EQ(v.status(), 0) << m.console_output();
  EXPECT_NE(m.console_output().find("freq 2000000000 -> 3000000000"), std::string::npos) << m.console_output();
  EXPECT_NE(m.console_output().find("reenlightenment interrupts 1, TSC_EMULATION_STATUS 1 in the handler, 1 before and 0 after"),
            std::string::npos)
      << m.console_output();
  int updates = 0;
  for (const std::string& r : m.tracer().captured()) updates += r.find("\"ev\":\"reftsc.update\"") != std::string::npos;
  EXPECT_GE(updates, 2);  // the first publication, then the republication after the change
}

TEST(Machine, InterruptCannotWakeAVcpuHaltedWithInterruptsDisabled) {
  Machine m(params("halt_forever"));
  m.raise_interrupt(0, 0x40);
  Verdict v = m.run();
  EXPECT_EQ(v.kind, Verdict::Kind::kWatchdog);
}

TEST(Machine, ParkedApStartsInRealModeOnInitSipi) {
  MachineParams p = params("ap_start", 2);
  p.aps_parked = true;
  Machine m(p);
  m.tracer().enable_capture();
  Verdict v = m.run();
  EXPECT_EQ(v.status(), 0) << m.console_output();
  EXPECT_NE(m.console_output().find("ap up"), std::string::npos);
  bool saw_sipi = false;
  for (const std::string& r : m.tracer().captured()) saw_sipi = saw_sipi || r.find("\"ev\":\"vcpu.sipi\"") != std::string::npos;
  EXPECT_TRUE(saw_sipi);
}

}  // namespace hvsim
