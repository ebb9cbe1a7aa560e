// Tiny self-made guests on the machine's real /dev/kvm (PVM included): they
// exercise KVM_RUN, exit decoding, port and MMIO dispatch and the verdicts.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "kvm/kvm.h"
#include "kvm/kvm_stats.h"
#include "vcpu/vcpu_thread.h"

namespace khyve {
namespace {

struct Recorder : BusDevice {
    std::string bytes;
    uint64_t last_off = 0;
    void read(uint64_t, std::span<uint8_t> d) override {
        for (auto& b : d) b = 0;
    }
    void write(uint64_t off, std::span<const uint8_t> d) override {
        last_off = off;
        bytes.append(d.begin(), d.end());
    }
};

class TinyGuest : public ::testing::Test {
protected:
    void SetUp() override {
        if (access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "no usable /dev/kvm here";
        sys_.emplace(KvmSystem::open());
        vm_.emplace(*sys_);
        void* p = mmap(nullptr, kRam, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_NE(p, MAP_FAILED);
        ram_ = Mapping(p, kRam);
        vm_->set_user_memory_region(0, 0, kRam, ram_.data());
        vcpu_.emplace(*sys_, *vm_, 0);
    }
    // Real mode, CS:IP = 0:0x1000.
    void load(const std::vector<uint8_t>& code) {
        std::copy(code.begin(), code.end(), ram_.data() + 0x1000);
        auto s = vcpu_->get_sregs();
        s.cs.base = 0;
        s.cs.selector = 0;
        vcpu_->set_sregs(s);
        kvm_regs r{};
        r.rip = 0x1000;
        r.rflags = 2;
        vcpu_->set_regs(r);
    }
    ExitResult run_to_end() {
        VcpuThread::install_kick_signal();
        Lifecycle lc;
        ExitHandler h(pio_, mmio_, {});
        VcpuThread t(*vcpu_, h, lc);
        t.start();
        auto v = lc.wait_for(std::chrono::seconds(20));
        if (!v) lc.stop({ExitAction::Error, "timeout"});
        t.join();
        return *lc.wait_for(std::chrono::milliseconds(0));
    }
    static constexpr size_t kRam = 0x10000;
    std::optional<KvmSystem> sys_;
    std::optional<KvmVm> vm_;
    std::optional<KvmVcpu> vcpu_;
    Mapping ram_;
    Bus pio_, mmio_;
};

TEST_F(TinyGuest, PortOutputThenHalt) {
    auto com = std::make_shared<Recorder>();
    pio_.insert(0x3f8, 8, com, "com1");
    load({0xba, 0xf8, 0x03,   // mov dx, 0x3f8
          0xb0, 'O', 0xee,    // mov al, 'O'; out dx, al
          0xb0, 'K', 0xee,    // mov al, 'K'; out dx, al
          0xf4});             // hlt
    auto r = run_to_end();
    EXPECT_EQ(r.action, ExitAction::Halt) << r.message;
    EXPECT_EQ(com->bytes, "OK");
    KvmStats stats(vcpu_->stats_fd());
    if (!stats.available()) GTEST_SKIP() << "this KVM has no binary statistics";
    auto values = stats.read();
    ASSERT_TRUE(values.count("exits")) << "no 'exits' statistic";
    EXPECT_GE(values["exits"], 3u);  // two port writes and the HLT
}

TEST_F(TinyGuest, MmioOutsideRamReachesDevice) {
    auto dev = std::make_shared<Recorder>();
    mmio_.insert(0x10000, 0x100, dev, "mmio");
    load({0xb8, 0x00, 0x10,              // mov ax, 0x1000
          0x8e, 0xd8,                    // mov ds, ax
          0xc6, 0x06, 0x10, 0x00, 0x5a,  // mov byte [0x10], 0x5a -> gpa 0x10010
          0xf4});
    auto r = run_to_end();
    EXPECT_EQ(r.action, ExitAction::Halt) << r.message;
    EXPECT_EQ(dev->bytes, "\x5a");
    EXPECT_EQ(dev->last_off, 0x10u);
}

TEST_F(TinyGuest, StrictIoStopsOnUnclaimedPort) {
    load({0xba, 0x34, 0x12, 0xee, 0xf4});  // mov dx, 0x1234; out dx, al; hlt
    VcpuThread::install_kick_signal();
    Lifecycle lc;
    ExitHandler h(pio_, mmio_, {.strict_io = true});
    VcpuThread t(*vcpu_, h, lc);
    t.start();
    auto v = lc.wait_for(std::chrono::seconds(20));
    t.join();
    ASSERT_TRUE(v);
    EXPECT_EQ(v->action, ExitAction::Error);
    EXPECT_NE(v->message.find("0x1234"), std::string::npos);
}

// A device whose host end fails (an exception out of the bus, as from an
// ioctl or I/O error): the vCPU thread stops the machine with the message.
struct Failing : BusDevice {
    void read(uint64_t, std::span<uint8_t>) override { throw Error("KVM_SET_GSI_ROUTING: Invalid argument"); }
    void write(uint64_t, std::span<const uint8_t>) override { throw Error("KVM_SET_GSI_ROUTING: Invalid argument"); }
};

TEST_F(TinyGuest, DeviceFailureOnTheVcpuThreadStopsTheMachine) {
    pio_.insert(0x510, 1, std::make_shared<Failing>(), "failing");
    load({0xba, 0x10, 0x05, 0xee, 0xf4});  // mov dx, 0x510; out dx, al; hlt
    auto r = run_to_end();
    EXPECT_EQ(r.action, ExitAction::Error);
    EXPECT_EQ(exit_status_for(r.action), 4);
    EXPECT_EQ(r.message, "vCPU 0: KVM_SET_GSI_ROUTING: Invalid argument");
}

TEST_F(TinyGuest, KickInterruptsASpinningGuestAndServesRequests) {
    load({0xeb, 0xfe});  // jmp $
    VcpuThread::install_kick_signal();
    Lifecycle lc;
    ExitHandler h(pio_, mmio_, {});
    VcpuThread t(*vcpu_, h, lc);
    t.start();
    uint64_t rip = 0;
    t.run_on_vcpu([&](KvmVcpu& v) { rip = v.get_regs().rip; });
    EXPECT_EQ(rip, 0x1000u);
    lc.stop({ExitAction::PowerOff, "test"});
    t.join();
}

TEST_F(TinyGuest, PinnedVcpuThreadRunsOnItsHostCpu) {
    load({0xeb, 0xfe});  // jmp $
    VcpuThread::install_kick_signal();
    Lifecycle lc;
    ExitHandler h(pio_, mmio_, {});
    VcpuThread t(*vcpu_, h, lc);
    t.set_affinity({0});
    t.start();
    cpu_set_t set;
    CPU_ZERO(&set);
    char name[16] = {};
    t.run_on_vcpu([&](KvmVcpu&) {
        sched_getaffinity(0, sizeof set, &set);
        prctl(PR_GET_NAME, name, 0, 0, 0);
    });
    EXPECT_STREQ(name, "vcpu 0");
    EXPECT_EQ(CPU_COUNT(&set), 1);
    EXPECT_TRUE(CPU_ISSET(0, &set));
    lc.stop({ExitAction::PowerOff, "test"});
    t.join();
}

// The machine holds its vCPUs at a gate until its main thread is confined:
// before the gate opens the guest executes nothing.
TEST_F(TinyGuest, NoGuestInstructionBeforeTheGateOpens) {
    auto com = std::make_shared<Recorder>();
    pio_.insert(0x3f8, 8, com, "com1");
    load({0xba, 0xf8, 0x03, 0xb0, 'O', 0xee, 0xb0, 'K', 0xee, 0xf4});
    VcpuThread::install_kick_signal();
    Lifecycle lc;
    ExitHandler h(pio_, mmio_, {});
    StartGate gate;
    VcpuThread t(*vcpu_, h, lc);
    t.set_start_gate(&gate);
    t.start();
    EXPECT_FALSE(lc.wait_for(std::chrono::milliseconds(200)));
    EXPECT_EQ(com->bytes, "");
    gate.open();
    auto v = lc.wait_for(std::chrono::seconds(20));
    if (!v) lc.stop({ExitAction::Error, "timeout"});
    t.join();
    ASSERT_TRUE(v);
    EXPECT_EQ(v->action, ExitAction::Halt) << v->message;
    EXPECT_EQ(com->bytes, "OK");
}

// A machine that fails before its guest starts opens the gate on a stopped
// lifecycle: the vCPU thread leaves without one KVM_RUN.
TEST_F(TinyGuest, AStoppedMachineLeavesTheGateWithoutRunning) {
    auto com = std::make_shared<Recorder>();
    pio_.insert(0x3f8, 8, com, "com1");
    load({0xba, 0xf8, 0x03, 0xb0, 'O', 0xee, 0xf4});
    VcpuThread::install_kick_signal();
    Lifecycle lc;
    ExitHandler h(pio_, mmio_, {});
    StartGate gate;
    VcpuThread t(*vcpu_, h, lc);
    t.set_start_gate(&gate);
    t.start();
    lc.stop({ExitAction::Error, "failed before the guest started"});
    gate.open();
    t.join();
    EXPECT_EQ(com->bytes, "");
    EXPECT_EQ(lc.wait_for(std::chrono::milliseconds(0))->message, "failed before the guest started");
}

}  // namespace
}  // namespace khyve
