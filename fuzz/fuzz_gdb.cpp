// gdb remote protocol: the input is lines; each is framed with its checksum
// (or, after a 0x01 byte, fed raw) to PacketReader in pieces, and every
// packet goes to GdbStub over the unit tests' fake machine (two vCPUs, 64 KiB
// of RAM mapped one-to-one, a 0x02 line reports a debug exit). Contract:
// payloads stay within kMaxPacket, every reply survives frame() and the
// reader unchanged, and after detach the guest RAM holds exactly what M/X
// packets wrote (breakpoint bytes all restored) and debugging is off.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>

#include "gdb/gdb_packet.h"
#include "gdb/gdb_stub.h"
#include "gdb_test_fake.h"

using namespace khyve::gdb;

namespace {

// Applies "Maddr,len:hex" / "Xaddr,len:bin" to the shadow RAM as gdb meant it.
void apply_write(const std::string& p, std::vector<uint8_t>& shadow) {
    size_t comma = p.find(','), colon = p.find(':');
    if (comma == std::string::npos || colon == std::string::npos || colon < comma) return;
    auto addr = parse_hex_u64(std::string_view(p).substr(1, comma - 1));
    std::optional<std::vector<uint8_t>> bytes;
    if (p[0] == 'M') {
        bytes = from_hex(std::string_view(p).substr(colon + 1));
    } else {
        std::string raw;
        if (unescape_binary(std::string_view(p).substr(colon + 1), raw)) bytes.emplace(raw.begin(), raw.end());
    }
    if (!addr || !bytes || *addr > shadow.size() || bytes->size() > shadow.size() - *addr) __builtin_trap();
    std::copy(bytes->begin(), bytes->end(), shadow.begin() + long(*addr));
}

void check_reply(const std::string& reply) {
    if (reply.size() > kMaxPacket) __builtin_trap();
    PacketReader r;
    std::vector<RspEvent> ev;
    r.feed(frame(reply), ev);
    std::string back;
    if (ev.size() != 1 || ev[0].kind != RspEvent::Kind::Packet || !unescape_binary(ev[0].payload, back) ||
        back != reply)
        __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    test::FakeTarget t(2, 16);
    for (uint64_t p = 0; p < 8; ++p) t.map(p * 4096, p * 4096);
    for (uint64_t p = 8; p < 16; ++p) t.map(0xffffffff81000000ull + (p - 8) * 4096, p * 4096);
    std::vector<uint8_t> shadow = t.ram;
    GdbStub stub(t, {[] {}, [] {}});
    stub.attach();
    PacketReader reader;
    auto run = [&](std::string_view bytes) {
        std::vector<RspEvent> ev;
        while (!bytes.empty()) {  // in pieces, as from a socket
            size_t n = std::min<size_t>(bytes.size(), 1 + in.ConsumeIntegralInRange<size_t>(0, 64));
            reader.feed(bytes.substr(0, n), ev);
            bytes.remove_prefix(n);
        }
        for (const auto& e : ev) {
            if (stub.wants_close()) return;  // after D or k the server hangs up (gdb_server.cpp)
            if (e.payload.size() > kMaxPacket) __builtin_trap();
            std::optional<std::string> reply;
            if (e.kind == RspEvent::Kind::Interrupt) reply = stub.interrupt();
            if (e.kind != RspEvent::Kind::Packet) continue;
            reply = stub.handle(e.payload);
            if (!reply) reply = stub.take_stop();
            if (!reply) continue;
            check_reply(*reply);
            if (*reply == "OK" && !e.payload.empty() && (e.payload[0] == 'M' || e.payload[0] == 'X'))
                apply_write(e.payload, shadow);
        }
    };
    for (int n = 0; n < 64 && in.remaining_bytes() > 0 && !stub.wants_close(); ++n) {
        std::string line = in.ConsumeRandomLengthString(kMaxPacket + 16);
        if (!line.empty() && line[0] == '\x01') {
            run(std::string_view(line).substr(1));
        } else if (!line.empty() && line[0] == '\x02') {
            DebugExit de{in.ConsumeBool() ? 3u : 1u, in.ConsumeIntegral<uint64_t>() & 0xffff, in.ConsumeIntegral<uint8_t>()};
            (void)stub.on_debug_exit(in.ConsumeIntegralInRange(0u, 1u), de);
            if (auto r = stub.take_stop()) check_reply(*r);
        } else {
            char cs[4];
            std::snprintf(cs, sizeof cs, "%02x", checksum(line));
            run("$" + line + "#" + cs);
        }
    }
    stub.detach();
    if (t.ram != shadow || t.paused) __builtin_trap();
    for (const auto& d : t.debug) if (!(d == GuestDebug{})) __builtin_trap();
    return 0;
}
