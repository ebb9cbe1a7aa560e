#include "gdb/gdb_stub.h"

#include <gtest/gtest.h>

#include "gdb/gdb_packet.h"
#include "gdb_test_fake.h"

namespace khyve::gdb {
namespace {

using test::FakeTarget;

// Virtual pages 0x400000 and 0x401000 are physically discontiguous on purpose.
constexpr uint64_t kVa = 0x400000;

struct GdbStubTest : ::testing::Test {
    GdbStubTest() {
        t.map(kVa, 0x3000);
        t.map(kVa + 0x1000, 0x1000);
        t.map(0xffffffff81000000ull, 0x5000);
        stub.attach();
    }
    std::string run(std::string_view p) {
        auto r = stub.handle(p);
        EXPECT_TRUE(r.has_value()) << p;
        return r.value_or("<none>");
    }
    FakeTarget t{2};
    int stops = 0, kills = 0;
    GdbStub stub{t, {[this] { ++stops; }, [this] { ++kills; }}};
};

TEST_F(GdbStubTest, AttachPausesAndReportsTrap) {
    EXPECT_EQ(t.pause_alls, 1);
    EXPECT_EQ(run("?"), "T05thread:1;");
    EXPECT_FALSE(stub.running());
}

TEST_F(GdbStubTest, QSupportedAndTargetXml) {
    std::string s = run("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386");
    EXPECT_NE(s.find("PacketSize=4000"), std::string::npos);
    EXPECT_NE(s.find("qXfer:features:read+"), std::string::npos);
    EXPECT_NE(s.find("vContSupported+"), std::string::npos);
    EXPECT_NE(s.find("swbreak+"), std::string::npos);

    std::string xml;
    for (uint64_t off = 0;;) {
        char q[80];
        snprintf(q, sizeof q, "qXfer:features:read:target.xml:%llx,1f0", (unsigned long long)off);
        std::string r = run(q);
        ASSERT_FALSE(r.empty());
        ASSERT_TRUE(r[0] == 'm' || r[0] == 'l') << r;
        xml += r.substr(1);
        off += r.size() - 1;
        if (r[0] == 'l') break;
    }
    EXPECT_EQ(xml, target_xml());
    EXPECT_EQ(run("qXfer:features:read:other.xml:0,100"), "E00");
    EXPECT_EQ(run("qXfer:features:read:target.xml:zz"), "E22");
}

TEST_F(GdbStubTest, ThreadsAndSelection) {
    EXPECT_EQ(run("qfThreadInfo"), "m1,2");
    EXPECT_EQ(run("qsThreadInfo"), "l");
    EXPECT_EQ(run("qC"), "QC1");
    EXPECT_EQ(run("T1"), "OK");
    EXPECT_EQ(run("T2"), "OK");
    EXPECT_EQ(run("T3"), "E03");
    EXPECT_EQ(run("Tzz"), "E03");
    EXPECT_EQ(run("qAttached"), "1");
    EXPECT_EQ(run("qThreadExtraInfo,2"), to_hex(std::string_view("vCPU 1")));
    EXPECT_EQ(run("Hg2"), "OK");
    EXPECT_EQ(run("qC"), "QC2");
    std::string g = run("g");
    EXPECT_EQ(g.substr(0, 16), "0020000000000000");  // vCPU 1's rax = 0x2000
    EXPECT_EQ(run("Hg5"), "E03");
    EXPECT_EQ(run("Hc-1"), "OK");
    EXPECT_EQ(run("Hg0"), "OK");  // "any": keeps the selection
    EXPECT_EQ(run("qC"), "QC2");
    EXPECT_EQ(run("Hx1"), "E22");
}

TEST_F(GdbStubTest, Registers) {
    EXPECT_EQ(run("p10"), "00000081ffffffff");  // rip of vCPU 0
    EXPECT_EQ(run("p3e"), "0050000000000000");  // cr3
    EXPECT_EQ(run("p18"), std::string(20, 'x'));  // st0 unavailable
    EXPECT_EQ(run("p99"), "E22");
    EXPECT_EQ(run("P10=0010400000000000"), "OK");
    EXPECT_EQ(t.regs[0].rip, 0x401000u);
    EXPECT_EQ(run("P10=00"), "E22");
    EXPECT_EQ(run("P10"), "E22");

    std::string g = run("g");
    g.replace(0, 16, "efbeadde00000000");
    EXPECT_EQ(run("G" + g), "OK");
    EXPECT_EQ(t.regs[0].gpr[0], 0xdeadbeefu);
    EXPECT_EQ(t.regs[1].gpr[0], 0x2000u);  // only the selected vCPU
    EXPECT_EQ(run("G00"), "E22");
}

TEST_F(GdbStubTest, MemoryReadsTranslatePageByPage) {
    // 8 bytes straddling the boundary: 4 from gpa 0x3ffc, 4 from gpa 0x1000.
    std::string r = run("m400ffc,8");
    std::vector<uint8_t> want;
    for (uint64_t a : {0x3ffcu, 0x3ffdu, 0x3ffeu, 0x3fffu, 0x1000u, 0x1001u, 0x1002u, 0x1003u})
        want.push_back(t.ram[a]);
    EXPECT_EQ(r, to_hex(want));
    // Running into an unmapped page gives a short read; starting there, an error.
    EXPECT_EQ(run("m401ffe,4").size(), 4u);
    EXPECT_EQ(run("m402000,4"), "E14");
    EXPECT_EQ(run("m400000"), "E22");
    EXPECT_EQ(run("mzz,4"), "E22");
    // Large requests are capped, not refused.
    EXPECT_EQ(run("m400000,100000").size(), 2 * GdbStub::kMaxMemoryChunk);
}

TEST_F(GdbStubTest, MemoryWrites) {
    EXPECT_EQ(run("M400ffe,4:a1b2c3d4"), "OK");
    EXPECT_EQ(t.ram[0x3ffe], 0xa1);
    EXPECT_EQ(t.ram[0x3fff], 0xb2);
    EXPECT_EQ(t.ram[0x1000], 0xc3);
    EXPECT_EQ(t.ram[0x1001], 0xd4);
    // A write that would fault writes nothing at all.
    int before = t.phys_writes;
    EXPECT_EQ(run("M401ffe,4:01020304"), "E14");
    EXPECT_EQ(t.phys_writes, before);
    EXPECT_EQ(run("M400000,2:01"), "E22");  // length mismatch
    EXPECT_EQ(run("M400000,1:zz"), "E22");
    // Binary: '#' travels escaped as '}' 0x03.
    EXPECT_EQ(run(std::string("X400010,2:}\x03") + "A"), "OK");
    EXPECT_EQ(t.ram[0x3010], '#');
    EXPECT_EQ(t.ram[0x3011], 'A');
    EXPECT_EQ(run("X400010,0:"), "OK");
    EXPECT_EQ(run("X400010,2:}"), "E22");
}

TEST_F(GdbStubTest, SoftwareBreakpointsInsertHideAndRestore) {
    uint64_t gpa = 0x5000 + 0x123;
    uint8_t orig = t.ram[gpa];
    ASSERT_NE(orig, 0xCC);
    EXPECT_EQ(run("Z0,ffffffff81000123,1"), "OK");
    EXPECT_EQ(t.ram[gpa], 0xCC);
    EXPECT_EQ(run("Z0,ffffffff81000123,1"), "OK");  // idempotent
    // gdb reading memory sees the original byte.
    EXPECT_EQ(run("mffffffff81000123,1"), to_hex(std::span<const uint8_t>(&orig, 1)));
    // gdb writing over it changes what is restored, and keeps the int3.
    EXPECT_EQ(run("Mffffffff81000122,2:9090"), "OK");
    EXPECT_EQ(t.ram[gpa], 0xCC);
    EXPECT_EQ(t.ram[gpa - 1], 0x90);
    EXPECT_EQ(run("z0,ffffffff81000123,1"), "OK");
    EXPECT_EQ(t.ram[gpa], 0x90);
    EXPECT_EQ(run("z0,ffffffff81000123,1"), "OK");  // already gone
    // Unmapped address.
    EXPECT_EQ(run("Z0,500000,1"), "E14");
    EXPECT_EQ(run("Z0,zz,1"), "E22");
    EXPECT_EQ(run("Z0"), "E22");
}

TEST_F(GdbStubTest, RemovalLeavesAByteTheGuestRewrote) {
    uint64_t gpa = 0x5000 + 0x40;
    EXPECT_EQ(run("Z0,ffffffff81000040,1"), "OK");
    t.ram[gpa] = 0x55;  // guest reused the page
    EXPECT_EQ(run("z0,ffffffff81000040,1"), "OK");
    EXPECT_EQ(t.ram[gpa], 0x55);
}

TEST_F(GdbStubTest, HardwareBreakpointSlots) {
    EXPECT_EQ(run("Z1,1000,1"), "OK");
    EXPECT_EQ(run("Z1,2000,1"), "OK");
    EXPECT_EQ(run("Z2,3000,8"), "OK");
    EXPECT_EQ(run("Z4,4004,4"), "OK");
    EXPECT_EQ(run("Z1,1000,1"), "OK");  // same one again takes no slot
    EXPECT_EQ(run("Z1,5000,1"), "E28");
    EXPECT_EQ(run("Z2,3001,8"), "E22");  // misaligned
    EXPECT_EQ(run("Z2,3000,3"), "E22");  // no such length
    EXPECT_EQ(run("Z3,3000,4"), "");     // read watchpoints: not on x86
    EXPECT_EQ(run("z1,2000,1"), "OK");
    EXPECT_EQ(run("Z1,5000,1"), "OK");

    ASSERT_EQ(stub.handle("c"), std::nullopt);
    for (unsigned v = 0; v < 2; ++v) {
        const auto& d = t.debug[v];
        EXPECT_TRUE(d.enabled);
        EXPECT_FALSE(d.single_step);
        ASSERT_TRUE(d.hw[0] && d.hw[1] && d.hw[2] && d.hw[3]);
        EXPECT_EQ(d.hw[0]->addr, 0x1000u);
        EXPECT_EQ(d.hw[1]->addr, 0x5000u);
        EXPECT_EQ(d.hw[2]->kind, HwBreakpoint::Kind::Write);
        EXPECT_EQ(d.hw[2]->len, 8);
        EXPECT_EQ(d.hw[3]->kind, HwBreakpoint::Kind::Access);
    }
    // Slot 2 (write watchpoint) fires on vCPU 1.
    EXPECT_EQ(stub.on_debug_exit(1, {1, 0x1234, 0xffff0ff4}), DebugVerdict::Stop);
    EXPECT_EQ(stub.take_stop(), "T05thread:2;watch:3000;");
    EXPECT_EQ(run("qC"), "QC2");
    ASSERT_EQ(stub.handle("c"), std::nullopt);
    EXPECT_EQ(stub.on_debug_exit(0, {1, 0x1000, 0xffff0ff1}), DebugVerdict::Stop);
    EXPECT_EQ(stub.take_stop(), "T05thread:1;hwbreak:;");
    ASSERT_EQ(stub.handle("c"), std::nullopt);
    EXPECT_EQ(stub.on_debug_exit(0, {1, 0x1000, 0xffff0ff8}), DebugVerdict::Stop);
    EXPECT_EQ(stub.take_stop(), "T05thread:1;awatch:4004;");
}

TEST_F(GdbStubTest, ContinueAndBreakpointHit) {
    EXPECT_EQ(run("Z0,ffffffff81000010,1"), "OK");
    ASSERT_EQ(stub.handle("c"), std::nullopt);
    EXPECT_TRUE(stub.running());
    ASSERT_EQ(t.resumes.size(), 1u);
    EXPECT_EQ(t.resumes[0], std::nullopt);
    EXPECT_TRUE(t.debug[0].enabled && t.debug[1].enabled);
    EXPECT_EQ(stub.take_stop(), std::nullopt);  // nothing happened yet

    // The guest's own int3 is not ours: it goes back to the guest.
    EXPECT_EQ(stub.on_debug_exit(0, {3, 0xffffffff81000020ull, 0}), DebugVerdict::Reinject);
    EXPECT_EQ(stops, 0);
    // Ours, on vCPU 1.
    EXPECT_EQ(stub.on_debug_exit(1, {3, 0xffffffff81000010ull, 0}), DebugVerdict::Stop);
    EXPECT_EQ(stops, 1);
    EXPECT_EQ(t.pause_requests, 1);
    // vCPU 0 hits it too before it is paused: also parked, not reported.
    EXPECT_EQ(stub.on_debug_exit(0, {3, 0xffffffff81000010ull, 0}), DebugVerdict::Stop);
    int pauses = t.pause_alls;
    EXPECT_EQ(stub.take_stop(), "T05thread:2;swbreak:;");
    EXPECT_EQ(t.pause_alls, pauses + 1);
    EXPECT_FALSE(stub.running());
    EXPECT_EQ(run("?"), "T05thread:2;swbreak:;");
    EXPECT_EQ(stub.take_stop(), std::nullopt);
    // Registers now come from the vCPU that stopped.
    EXPECT_EQ(run("p10"), "01000081ffffffff");
}

TEST_F(GdbStubTest, ContinueAtAddressAndSignals) {
    ASSERT_EQ(stub.handle("c401000"), std::nullopt);
    EXPECT_EQ(t.regs[0].rip, 0x401000u);
    EXPECT_EQ(stub.interrupt(), "T02thread:1;");
    ASSERT_EQ(stub.handle("C0f;402000"), std::nullopt);
    EXPECT_EQ(t.regs[0].rip, 0x402000u);
    EXPECT_EQ(stub.interrupt(), "T02thread:1;");
    EXPECT_EQ(run("czz"), "E22");
}

TEST_F(GdbStubTest, SingleStepOnlyRunsOneVcpu) {
    EXPECT_EQ(run("Hc2"), "OK");
    ASSERT_EQ(stub.handle("s"), std::nullopt);
    ASSERT_EQ(t.resumes.back(), std::optional<unsigned>(1));
    EXPECT_TRUE(t.debug[1].single_step);
    EXPECT_FALSE(t.debug[0].single_step);
    EXPECT_EQ(stub.on_debug_exit(1, {1, 0xffffffff81000004ull, 0xffff4ff0}), DebugVerdict::Stop);
    EXPECT_EQ(stub.take_stop(), "T05thread:2;");
    // The next continue turns stepping off again.
    ASSERT_EQ(stub.handle("c"), std::nullopt);
    EXPECT_FALSE(t.debug[1].single_step);
    // A #DB nobody asked for is the guest's.
    EXPECT_EQ(stub.on_debug_exit(0, {1, 0x10, 0xffff4ff0}), DebugVerdict::Reinject);
}

TEST_F(GdbStubTest, VCont) {
    EXPECT_EQ(run("vCont?"), "vCont;c;C;s;S");
    ASSERT_EQ(stub.handle("vCont;s:2;c"), std::nullopt);
    EXPECT_EQ(t.resumes.back(), std::optional<unsigned>(1));
    EXPECT_TRUE(t.debug[1].single_step);
    EXPECT_EQ(stub.on_debug_exit(1, {1, 0x10, 0xffff4ff0}), DebugVerdict::Stop);
    EXPECT_EQ(stub.take_stop(), "T05thread:2;");
    ASSERT_EQ(stub.handle("vCont;c"), std::nullopt);
    EXPECT_EQ(t.resumes.back(), std::nullopt);
    EXPECT_EQ(stub.interrupt(), "T02thread:2;");
    ASSERT_EQ(stub.handle("vCont;S05:1;c"), std::nullopt);
    EXPECT_EQ(t.resumes.back(), std::optional<unsigned>(0));
    EXPECT_EQ(stub.interrupt(), "T02thread:1;");
    EXPECT_EQ(run("vCont;x"), "E22");
    EXPECT_EQ(run("vCont;s:9"), "E03");
    EXPECT_EQ(run("vCont;"), "E22");
    EXPECT_EQ(run("vCont"), "");
    EXPECT_FALSE(stub.running());
}

TEST_F(GdbStubTest, InterruptOnlyWhileRunning) {
    EXPECT_EQ(stub.interrupt(), std::nullopt);
    ASSERT_EQ(stub.handle("c"), std::nullopt);
    EXPECT_EQ(stub.interrupt(), "T02thread:1;");
    EXPECT_TRUE(t.paused);
    EXPECT_EQ(stub.interrupt(), std::nullopt);
}

TEST_F(GdbStubTest, DetachRemovesEverythingAndResumes) {
    uint64_t gpa = 0x5000 + 0x10;
    uint8_t orig = t.ram[gpa];
    EXPECT_EQ(run("Z0,ffffffff81000010,1"), "OK");
    EXPECT_EQ(run("Z1,1000,1"), "OK");
    ASSERT_EQ(stub.handle("c"), std::nullopt);
    EXPECT_EQ(stub.interrupt(), "T02thread:1;");
    EXPECT_EQ(run("D"), "OK");
    EXPECT_TRUE(stub.wants_close());
    EXPECT_EQ(t.ram[gpa], orig);
    EXPECT_FALSE(t.debug[0].enabled);
    EXPECT_FALSE(t.debug[1].enabled);
    EXPECT_FALSE(t.paused);
    EXPECT_EQ(t.resumes.back(), std::nullopt);
    // After detach nothing is the debugger's any more.
    EXPECT_EQ(stub.on_debug_exit(0, {3, 0xffffffff81000010ull, 0}), DebugVerdict::Reinject);
}

TEST_F(GdbStubTest, KillCallsBack) {
    EXPECT_EQ(stub.handle("k"), std::nullopt);
    EXPECT_EQ(kills, 1);
    EXPECT_TRUE(stub.wants_close());
}

TEST_F(GdbStubTest, UnsupportedGetsEmptyReplies) {
    EXPECT_EQ(run("vMustReplyEmpty"), "");
    EXPECT_EQ(run("qOffsets"), "");
    EXPECT_EQ(run("qTStatus"), "");
    EXPECT_EQ(run("!"), "");
    EXPECT_EQ(run(""), "");
    EXPECT_EQ(run("qSymbol::"), "OK");
    EXPECT_FALSE(stub.no_ack());
    EXPECT_EQ(run("QStartNoAckMode"), "OK");
    EXPECT_TRUE(stub.no_ack());
}

}  // namespace
}  // namespace khyve::gdb
