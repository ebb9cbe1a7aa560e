#include "acpi/mptable.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "common/error.h"
#include "platform/layout.h"

namespace khyve {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint64_t kBase = 0xF0000;

uint64_t le(const Bytes& b, size_t off, unsigned bytes) {
    if (off + bytes > b.size()) throw std::out_of_range("read past blob");
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; ++i) v |= uint64_t{b[off + i]} << (8 * i);
    return v;
}

std::string chars(const Bytes& b, size_t off, size_t len) {
    if (off + len > b.size()) throw std::out_of_range("read past blob");
    return std::string(b.begin() + static_cast<long>(off), b.begin() + static_cast<long>(off + len));
}

uint8_t sum(const Bytes& b, size_t off, size_t len) {
    if (off + len > b.size()) throw std::out_of_range("sum past blob");
    return std::accumulate(b.begin() + static_cast<long>(off), b.begin() + static_cast<long>(off + len), uint8_t{0},
                           [](uint8_t a, uint8_t c) { return static_cast<uint8_t>(a + c); });
}

struct Entry {
    uint8_t type;
    Bytes raw;
};

// A configuration table decoded the way a guest reads it: through the
// floating pointer's address field, then entry by entry using the sizes the
// spec gives per type.
struct Parsed {
    size_t table_off = 0;
    size_t table_len = 0;
    unsigned count = 0;
    std::vector<Entry> entries;

    std::vector<Entry> of_type(uint8_t t) const {
        std::vector<Entry> out;
        std::copy_if(entries.begin(), entries.end(), std::back_inserter(out), [t](const Entry& e) { return e.type == t; });
        return out;
    }
};

Parsed parse(const Bytes& b, uint64_t base) {
    Parsed p;
    const uint64_t addr = le(b, 4, 4);
    if (addr < base) throw std::out_of_range("table before blob");
    p.table_off = addr - base;
    p.table_len = le(b, p.table_off + 4, 2);
    p.count = static_cast<unsigned>(le(b, p.table_off + 34, 2));
    size_t off = p.table_off + 44;
    const size_t end = p.table_off + p.table_len;
    while (off < end) {
        const uint8_t type = b.at(off);
        const size_t size = type == 0 ? 20 : 8;
        if (type > 4) throw std::runtime_error("unknown entry type " + std::to_string(type));
        if (off + size > end) throw std::out_of_range("entry past table end");
        p.entries.push_back({type, Bytes(b.begin() + static_cast<long>(off), b.begin() + static_cast<long>(off + size))});
        off += size;
    }
    return p;
}

MpTableConfig two_routes(unsigned cpus) {
    MpTableConfig cfg;
    cfg.cpus = cpus;
    cfg.pci_routes = {{3, 0, 16}, {4, 1, 18}};
    return cfg;
}

TEST(MpTable, FloatingPointer) {
    const Bytes b = build_mptable(two_routes(2), kBase);
    ASSERT_GE(b.size(), 16u);
    EXPECT_EQ(chars(b, 0, 4), "_MP_");
    EXPECT_EQ(le(b, 4, 4), kBase + 16);  // the table follows the pointer
    EXPECT_EQ(b[8], 1);                  // one 16-byte paragraph
    EXPECT_EQ(b[9], 4);                  // spec 1.4
    EXPECT_EQ(sum(b, 0, 16), 0);
    EXPECT_NE(b[10], 0);                 // the checksum byte was actually computed
    EXPECT_EQ(b[11], 0);                 // feature 1: table present, no default config
    EXPECT_EQ(b[12] & 0x80, 0);          // no IMCR
}

TEST(MpTable, PointerFollowsBase) {
    const Bytes b = build_mptable(two_routes(1), 0xF1230);
    EXPECT_EQ(le(b, 4, 4), 0xF1230u + 16);
    EXPECT_EQ(sum(b, 0, 16), 0);
}

TEST(MpTable, HeaderAndLengths) {
    const Bytes b = build_mptable(two_routes(3), kBase);
    const Parsed p = parse(b, kBase);
    const size_t t = p.table_off;
    EXPECT_EQ(chars(b, t, 4), "PCMP");
    EXPECT_EQ(b[t + 6], 4);
    EXPECT_EQ(chars(b, t + 8, 8), "KHYVE   ");
    EXPECT_EQ(le(b, t + 28, 4), 0u);  // no OEM table
    EXPECT_EQ(le(b, t + 36, 4), layout::kLapicBase);
    EXPECT_EQ(le(b, t + 40, 2), 0u);  // no extended table
    EXPECT_EQ(t + p.table_len, b.size());  // the blob is pointer + table, nothing more
    EXPECT_EQ(sum(b, t, p.table_len), 0);
    EXPECT_EQ(p.count, p.entries.size());
    // 3 CPUs, 2 buses, 1 IOAPIC, 15 ISA IRQs, 2 PCI routes, 2 local interrupts.
    EXPECT_EQ(p.entries.size(), 3u + 2 + 1 + 15 + 2 + 2);
}

TEST(MpTable, EntriesInTypeOrder) {
    const Bytes b = build_mptable(two_routes(4), kBase);
    const Parsed p = parse(b, kBase);
    EXPECT_TRUE(std::is_sorted(p.entries.begin(), p.entries.end(),
                               [](const Entry& a, const Entry& c) { return a.type < c.type; }));
}

TEST(MpTable, ProcessorsWithBspOnlyOnZero) {
    const Bytes b = build_mptable(two_routes(4), kBase);
    const auto cpus = parse(b, kBase).of_type(0);
    ASSERT_EQ(cpus.size(), 4u);
    for (unsigned i = 0; i < cpus.size(); ++i) {
        const Bytes& e = cpus[i].raw;
        EXPECT_EQ(e[1], i);        // APIC id
        EXPECT_EQ(e[2], 0x14);     // local APIC version
        EXPECT_EQ(e[3] & 1, 1);    // enabled
        EXPECT_EQ((e[3] & 2) != 0, i == 0) << "cpu " << i;
        EXPECT_EQ((le(e, 4, 4) >> 8) & 0xF, 6u);  // family 6
    }
}

TEST(MpTable, Buses) {
    const Bytes b = build_mptable(two_routes(1), kBase);
    const auto buses = parse(b, kBase).of_type(1);
    ASSERT_EQ(buses.size(), 2u);
    EXPECT_EQ(buses[0].raw[1], 0);
    EXPECT_EQ(chars(buses[0].raw, 2, 6), "PCI   ");
    EXPECT_EQ(buses[1].raw[1], 1);
    EXPECT_EQ(chars(buses[1].raw, 2, 6), "ISA   ");
}

TEST(MpTable, IoapicAfterTheCpus) {
    const Bytes b = build_mptable(two_routes(5), kBase);
    const auto io = parse(b, kBase).of_type(2);
    ASSERT_EQ(io.size(), 1u);
    EXPECT_EQ(io[0].raw[1], 5);     // id = cpus
    EXPECT_EQ(io[0].raw[2], 0x11);  // version
    EXPECT_EQ(io[0].raw[3] & 1, 1); // enabled
    EXPECT_EQ(le(io[0].raw, 4, 4), layout::kIoapicBase);
}

// Finds the I/O interrupt entry for (bus, source irq); fails the test if
// there is not exactly one.
Bytes io_interrupt(const Parsed& p, uint8_t bus, uint8_t irq) {
    std::vector<Bytes> found;
    for (const Entry& e : p.of_type(3))
        if (e.raw[4] == bus && e.raw[5] == irq) found.push_back(e.raw);
    EXPECT_EQ(found.size(), 1u) << "bus " << int(bus) << " irq " << int(irq);
    return found.empty() ? Bytes(8, 0xEE) : found[0];
}

TEST(MpTable, IsaInterrupts) {
    const Bytes b = build_mptable(two_routes(2), kBase);
    const Parsed p = parse(b, kBase);
    const Bytes irq0 = io_interrupt(p, 1, 0);
    EXPECT_EQ(irq0[1], 0);                 // vectored INT
    EXPECT_EQ(le(irq0, 2, 2), 0u);         // conforming: edge, high on ISA
    EXPECT_EQ(irq0[6], 2);                 // IOAPIC id
    EXPECT_EQ(irq0[7], 2);                 // the PIT lands on pin 2
    for (uint8_t irq : {1, 3, 4, 8, 9, 12, 14, 15}) {
        const Bytes e = io_interrupt(p, 1, irq);
        EXPECT_EQ(e[7], irq);
        EXPECT_EQ(le(e, 2, 2), 0u);
    }
    // Nothing but IRQ0 may claim pin 2, and IRQ2 (the cascade) is not listed.
    unsigned on_pin2 = 0;
    for (const Entry& e : p.of_type(3)) {
        if (e.raw[7] == 2) ++on_pin2;
        EXPECT_FALSE(e.raw[4] == 1 && e.raw[5] == 2);
    }
    EXPECT_EQ(on_pin2, 1u);
}

TEST(MpTable, PciInterrupts) {
    MpTableConfig cfg;
    cfg.cpus = 2;
    cfg.pci_routes = {{3, 0, 16}, {4, 1, 18}, {31, 3, 23}};
    const Bytes b = build_mptable(cfg, kBase);
    const Parsed p = parse(b, kBase);
    for (const AcpiPciRoute& r : cfg.pci_routes) {
        const Bytes e = io_interrupt(p, 0, static_cast<uint8_t>((r.slot << 2) | r.pin));
        EXPECT_EQ(e[1], 0);
        EXPECT_EQ(le(e, 2, 2), 0x0Fu);  // level, active low
        EXPECT_EQ(e[6], 2);
        EXPECT_EQ(e[7], r.gsi);
    }
}

TEST(MpTable, LocalInterrupts) {
    const Bytes b = build_mptable(two_routes(2), kBase);
    const auto lint = parse(b, kBase).of_type(4);
    ASSERT_EQ(lint.size(), 2u);
    EXPECT_EQ(lint[0].raw[1], 3);     // ExtINT
    EXPECT_EQ(lint[0].raw[6], 0xFF);  // all local APICs
    EXPECT_EQ(lint[0].raw[7], 0);     // LINT0
    EXPECT_EQ(lint[1].raw[1], 1);     // NMI
    EXPECT_EQ(lint[1].raw[6], 0xFF);
    EXPECT_EQ(lint[1].raw[7], 1);     // LINT1
}

TEST(MpTable, MostCpusFitBelowOneMegabyte) {
    const Bytes b = build_mptable(two_routes(kMpTableMaxCpus), kBase);
    EXPECT_LE(kBase + b.size(), 0x100000u);
    const Parsed p = parse(b, kBase);
    EXPECT_EQ(p.of_type(0).size(), kMpTableMaxCpus);
    EXPECT_EQ(p.of_type(2).at(0).raw[1], kMpTableMaxCpus);
    EXPECT_EQ(sum(b, p.table_off, p.table_len), 0);
    EXPECT_EQ(p.count, p.entries.size());
}

TEST(MpTable, ErrorWhenItDoesNotFit) {
    // 16 + 44 + 20 * 16 + ... bytes do not fit in the last 256 bytes.
    EXPECT_THROW(build_mptable(two_routes(16), 0xFFF00), Error);
    // The same table with one CPU does (16 + 44 + 20 + 16 + 8 + 120 + 16 + 16 = 256).
    const Bytes b = build_mptable(two_routes(1), 0xFFF00);
    EXPECT_EQ(0xFFF00 + b.size(), 0x100000u);
    EXPECT_THROW(build_mptable(two_routes(2), 0xFFF00), Error);
}

TEST(MpTable, ErrorOnTooManyCpus) {
    EXPECT_THROW(build_mptable(two_routes(kMpTableMaxCpus + 1), kBase), Error);
    EXPECT_THROW(build_mptable(two_routes(0), kBase), Error);
}

TEST(MpTable, ErrorOnBadBase) {
    EXPECT_THROW(build_mptable(two_routes(1), kBase + 8), Error);   // unaligned
    EXPECT_THROW(build_mptable(two_routes(1), 0xE0000), Error);     // not scanned by the guest
    EXPECT_THROW(build_mptable(two_routes(1), 0x100000), Error);
}

TEST(MpTable, ErrorOnBadRoute) {
    for (AcpiPciRoute r : {AcpiPciRoute{32, 0, 16}, AcpiPciRoute{3, 4, 16}, AcpiPciRoute{3, 0, 24}}) {
        MpTableConfig cfg;
        cfg.pci_routes = {r};
        EXPECT_THROW(build_mptable(cfg, kBase), Error);
    }
}

}  // namespace
}  // namespace khyve
