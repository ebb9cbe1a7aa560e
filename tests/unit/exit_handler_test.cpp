#include "vcpu/exit_handler.h"

#include <linux/kvm.h>
#include <gtest/gtest.h>

#include <vector>

namespace khyve {
namespace {

struct Port : BusDevice {
    std::vector<uint8_t> written;
    void read(uint64_t, std::span<uint8_t> d) override {
        for (auto& b : d) b = 0x42;
    }
    void write(uint64_t, std::span<const uint8_t> d) override {
        written.insert(written.end(), d.begin(), d.end());
    }
};

struct Fixture {
    Bus pio, mmio;
    std::shared_ptr<Port> port = std::make_shared<Port>();
    Fixture() { pio.insert(0x3f8, 8, port, "com1"); }
};

VcpuExit io(bool write, uint64_t port, uint32_t size, std::vector<uint8_t>& buf, uint32_t count = 1) {
    VcpuExit e;
    e.kind = VcpuExit::Kind::Io;
    e.write = write;
    e.addr = port;
    e.size = size;
    e.count = count;
    e.data = buf;
    return e;
}

TEST(ExitHandler, PortWriteReachesDevice) {
    Fixture f;
    ExitHandler h(f.pio, f.mmio, {});
    std::vector<uint8_t> buf = {'h', 'i'};
    auto e = io(true, 0x3f8, 1, buf, 2);  // rep outsb
    EXPECT_EQ(h.handle(e).action, ExitAction::Continue);
    EXPECT_EQ(f.port->written, (std::vector<uint8_t>{'h', 'i'}));
}

TEST(ExitHandler, UnclaimedReadFloatsHighUnlessStrict) {
    Fixture f;
    std::vector<uint8_t> buf(2, 0);
    ExitHandler lax(f.pio, f.mmio, {});
    auto e = io(false, 0x80, 2, buf);
    EXPECT_EQ(lax.handle(e).action, ExitAction::Continue);
    EXPECT_EQ(buf[0], 0xff);
    EXPECT_EQ(buf[1], 0xff);

    ExitHandler strict(f.pio, f.mmio, {.strict_io = true});
    auto r = strict.handle(e);
    EXPECT_EQ(r.action, ExitAction::Error);
    EXPECT_NE(r.message.find("0x80"), std::string::npos);
}

TEST(ExitHandler, AccessStraddlingDeviceEndNotDispatched) {
    Fixture f;
    ExitHandler strict(f.pio, f.mmio, {.strict_io = true});
    std::vector<uint8_t> buf(4);
    auto e = io(false, 0x3fe, 4, buf);
    EXPECT_EQ(strict.handle(e).action, ExitAction::Error);
}

TEST(ExitHandler, MalformedWidthIsError) {
    Fixture f;
    ExitHandler h(f.pio, f.mmio, {});
    std::vector<uint8_t> buf(3);
    auto e = io(false, 0x3f8, 3, buf);
    EXPECT_EQ(h.handle(e).action, ExitAction::Error);
    std::vector<uint8_t> small(1);
    auto e2 = io(true, 0x3f8, 1, small, 4);  // count larger than the buffer
    EXPECT_EQ(h.handle(e2).action, ExitAction::Error);
}

TEST(ExitHandler, LifecycleVerdicts) {
    Fixture f;
    ExitHandler h(f.pio, f.mmio, {});
    VcpuExit e;
    e.kind = VcpuExit::Kind::Shutdown;
    EXPECT_EQ(h.handle(e).action, ExitAction::TripleFault);
    e.kind = VcpuExit::Kind::Hlt;
    EXPECT_EQ(h.handle(e).action, ExitAction::Halt);
    e.kind = VcpuExit::Kind::SystemEvent;
    e.event = KVM_SYSTEM_EVENT_RESET;
    EXPECT_EQ(h.handle(e).action, ExitAction::Reset);
    e.event = KVM_SYSTEM_EVENT_SHUTDOWN;
    EXPECT_EQ(h.handle(e).action, ExitAction::PowerOff);
    e.kind = VcpuExit::Kind::InternalError;
    e.code = KVM_INTERNAL_ERROR_EMULATION;
    auto r = h.handle(e);
    EXPECT_EQ(r.action, ExitAction::Error);
    EXPECT_NE(r.message.find("emulation"), std::string::npos);
    e.kind = VcpuExit::Kind::Unknown;
    EXPECT_EQ(h.handle(e).action, ExitAction::Error);
}

TEST(ExitHandler, ExitStatusesMatchBhyve) {
    EXPECT_EQ(exit_status_for(ExitAction::Reset), 0);
    EXPECT_EQ(exit_status_for(ExitAction::PowerOff), 1);
    EXPECT_EQ(exit_status_for(ExitAction::Halt), 2);
    EXPECT_EQ(exit_status_for(ExitAction::TripleFault), 3);
    EXPECT_EQ(exit_status_for(ExitAction::Error), 4);
}

TEST(ExitHandler, DecodesKvmRunIo) {
    alignas(8) uint8_t page[4096] = {};
    auto* run = reinterpret_cast<kvm_run*>(page);
    run->exit_reason = KVM_EXIT_IO;
    run->io.direction = KVM_EXIT_IO_OUT;
    run->io.size = 1;
    run->io.port = 0x3f8;
    run->io.count = 1;
    run->io.data_offset = 1024;
    page[1024] = 'x';
    auto e = decode_exit(run);
    EXPECT_EQ(e.kind, VcpuExit::Kind::Io);
    EXPECT_TRUE(e.write);
    EXPECT_EQ(e.addr, 0x3f8u);
    ASSERT_EQ(e.data.size(), 1u);
    EXPECT_EQ(e.data[0], 'x');
}

}  // namespace
}  // namespace khyve
