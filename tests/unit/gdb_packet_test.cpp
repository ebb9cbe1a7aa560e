#include "gdb/gdb_packet.h"

#include <gtest/gtest.h>

#include "gdb/gdb_regs.h"

namespace khyve::gdb {
namespace {

using Kind = RspEvent::Kind;

std::vector<RspEvent> feed(PacketReader& r, std::string_view s) {
    std::vector<RspEvent> out;
    r.feed(s, out);
    return out;
}

TEST(GdbPacket, FramesWithChecksum) {
    EXPECT_EQ(frame("OK"), "$OK#9a");
    EXPECT_EQ(frame(""), "$#00");
    EXPECT_EQ(checksum("qSupported"), 0x37);
}

TEST(GdbPacket, FrameEscapesSpecialCharacters) {
    // '#' 0x23 -> '}' 0x03, '$' 0x24 -> '}' 0x04, '}' 0x7d -> '}' ']', '*' 0x2a -> '}' 0x0a
    std::string f = frame("a#b$c}d*e");
    std::string body = f.substr(1, f.size() - 4);
    EXPECT_EQ(body, std::string("a}\x03" "b}\x04" "c}]d}\x0a" "e"));
    std::string back;
    ASSERT_TRUE(unescape_binary(body, back));
    EXPECT_EQ(back, "a#b$c}d*e");
    EXPECT_EQ(f.substr(f.size() - 2), [&] {
        char buf[3];
        snprintf(buf, sizeof buf, "%02x", checksum(body));
        return std::string(buf);
    }());
}

TEST(GdbPacket, UnescapeRejectsDanglingEscape) {
    std::string out;
    EXPECT_FALSE(unescape_binary("ab}", out));
    EXPECT_TRUE(unescape_binary("", out));
    EXPECT_EQ(out, "");
}

TEST(GdbPacket, Hex) {
    EXPECT_EQ(to_hex(std::string_view("\x01\xab", 2)), "01ab");
    EXPECT_EQ(*from_hex("01aB"), (std::vector<uint8_t>{0x01, 0xab}));
    EXPECT_FALSE(from_hex("abc"));
    EXPECT_FALSE(from_hex("zz"));
    EXPECT_EQ(*parse_hex_u64("ffffffff81000000"), 0xffffffff81000000ull);
    EXPECT_FALSE(parse_hex_u64(""));
    EXPECT_FALSE(parse_hex_u64("1ffffffff81000000"));  // 17 digits would overflow
    EXPECT_FALSE(parse_hex_u64("12g"));
}

TEST(GdbPacket, ReaderHandlesPiecesAcksAndInterrupt) {
    PacketReader r;
    EXPECT_TRUE(feed(r, "$qSup").empty());
    EXPECT_TRUE(feed(r, "ported#3").empty());
    auto ev = feed(r, "7+-\x03junk$g#67");
    ASSERT_EQ(ev.size(), 5u);
    EXPECT_EQ(ev[0].kind, Kind::Packet);
    EXPECT_EQ(ev[0].payload, "qSupported");
    EXPECT_EQ(ev[1].kind, Kind::Ack);
    EXPECT_EQ(ev[2].kind, Kind::Nack);
    EXPECT_EQ(ev[3].kind, Kind::Interrupt);
    EXPECT_EQ(ev[4].kind, Kind::Packet);
    EXPECT_EQ(ev[4].payload, "g");
}

TEST(GdbPacket, ReaderRejectsBadChecksums) {
    PacketReader r;
    auto ev = feed(r, "$g#68$g#zz$g#67");
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[0].kind, Kind::BadChecksum);
    EXPECT_EQ(ev[1].kind, Kind::BadChecksum);
    EXPECT_EQ(ev[2].kind, Kind::Packet);
}

TEST(GdbPacket, ReaderBoundsPayloadAndRecovers) {
    PacketReader r(16);
    std::string big(100, 'm');
    auto ev = feed(r, frame(big) + frame("?"));
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, Kind::Oversized);
    EXPECT_TRUE(ev[0].payload.empty());
    EXPECT_EQ(ev[1].kind, Kind::Packet);
    EXPECT_EQ(ev[1].payload, "?");
    // Exactly at the limit is fine.
    ev = feed(r, frame(std::string(16, 'a')));
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, Kind::Packet);
}

TEST(GdbPacket, ReaderKeepsBinaryPayloadEscaped) {
    PacketReader r;
    std::string payload = std::string("X10,1:") + "}\x03";  // escaped '#'
    auto ev = feed(r, "$" + payload + "#" + [&] {
        char b[3];
        snprintf(b, sizeof b, "%02x", checksum(payload));
        return std::string(b);
    }());
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].payload, payload);
}

TEST(GdbRegs, GPacketLayout) {
    GdbRegs r;
    r.gpr[0] = 0x1122334455667788ull;
    r.rip = 0xffffffff81000000ull;
    r.eflags = 0x202;
    r.seg[0] = 0x10;
    r.cr3 = 0xabc000;
    std::string g = regs_to_hex(r);
    size_t total = 0;
    for (const auto& i : reg_table()) total += i.bits / 4;
    EXPECT_EQ(g.size(), total);
    EXPECT_EQ(reg_table().size(), size_t(kRegCount));
    EXPECT_EQ(g.substr(0, 16), "8877665544332211");
    EXPECT_EQ(g.substr(16 * 16, 16), "00000081ffffffff");  // rip, little-endian
    EXPECT_EQ(g.substr(17 * 16, 8), "02020000");          // eflags
    EXPECT_EQ(g.substr(17 * 16 + 8, 8), "10000000");      // cs
    // The FPU state is unavailable until filled.
    EXPECT_EQ(*reg_to_hex(r, kRegSt0), std::string(20, 'x'));
    EXPECT_EQ(*reg_to_hex(r, kRegCr3), "00c0ab0000000000");
    EXPECT_EQ(g.substr(g.size() - 16), "0000000000000000");  // efer last
    EXPECT_FALSE(reg_to_hex(r, kRegCount));
}

TEST(GdbRegs, GRoundTripAndValidation) {
    GdbRegs a;
    for (unsigned i = 0; i < 16; ++i) a.gpr[i] = 0x0101010101010101ull * i;
    a.rip = 0x1234;
    a.efer = 0xd01;
    a.fpu_valid = true;
    a.mxcsr = 0x1f80;
    a.xmm[3][15] = 0x42;
    std::string g = regs_to_hex(a);
    GdbRegs b;
    b.fpu_valid = true;
    ASSERT_TRUE(regs_from_hex(b, g));
    EXPECT_EQ(regs_to_hex(b), g);
    EXPECT_EQ(b.xmm[3][15], 0x42);
    EXPECT_FALSE(regs_from_hex(b, g.substr(2)));              // short
    EXPECT_FALSE(regs_from_hex(b, "zz" + g.substr(2)));       // not hex
    // 'x' leaves a register as it was.
    std::string partial = g;
    partial.replace(0, 16, std::string(16, 'x'));
    GdbRegs c = b;
    c.gpr[0] = 77;
    ASSERT_TRUE(regs_from_hex(c, partial));
    EXPECT_EQ(c.gpr[0], 77u);
    // Single registers: size and availability are checked.
    GdbRegs d;
    EXPECT_TRUE(reg_from_hex(d, kRegRip, "efbeadde00000000"));
    EXPECT_EQ(d.rip, 0xdeadbeefu);
    EXPECT_FALSE(reg_from_hex(d, kRegRip, "efbeadde"));
    EXPECT_FALSE(reg_from_hex(d, kRegMxcsr, "801f0000"));  // FPU unavailable
    EXPECT_FALSE(reg_from_hex(d, kRegCount, "00"));
}

TEST(GdbRegs, TargetXmlDescribesEveryRegister) {
    const std::string& x = target_xml();
    EXPECT_NE(x.find("<architecture>i386:x86-64</architecture>"), std::string::npos);
    EXPECT_NE(x.find("org.gnu.gdb.i386.core"), std::string::npos);
    EXPECT_NE(x.find("org.gnu.gdb.i386.sse"), std::string::npos);
    size_t regs = 0;
    for (size_t p = 0; (p = x.find("<reg ", p)) != std::string::npos; ++p) ++regs;
    EXPECT_EQ(regs, size_t(kRegCount));
    for (const auto& i : reg_table())
        EXPECT_NE(x.find(std::string("name=\"") + i.name + "\" bitsize=\"" + std::to_string(i.bits) + "\""),
                  std::string::npos)
            << i.name;
    EXPECT_EQ(x.find('#'), std::string::npos);
}

}  // namespace
}  // namespace khyve::gdb
