#include "acpi/mptable.h"

#include <string>
#include <string_view>

#include "common/error.h"
#include "common/le_bytes.h"
#include "platform/layout.h"

namespace khyve {
namespace {

using Bytes = std::vector<uint8_t>;

// Where Linux scans for the floating pointer structure (besides the EBDA).
constexpr uint64_t kScanStart = 0xF0000;
constexpr uint64_t kScanEnd = 0x100000;

constexpr size_t kPointerSize = 16;
constexpr size_t kHeaderSize = 44;
constexpr size_t kProcessorSize = 20;
constexpr size_t kEntrySize = 8;  // every other base-table entry

constexpr uint8_t kSpecRev = 4;   // MP spec 1.4
constexpr unsigned kIoapicPins = 24;  // KVM's in-kernel IOAPIC
constexpr unsigned kIsaIrqs = 16;
constexpr unsigned kPitIrq = 0;
constexpr unsigned kPitPin = 2;
constexpr unsigned kCascadeIrq = 2;  // the 8259 cascade: no device, and its pin carries the PIT
constexpr unsigned kPciSlots = 32;
constexpr unsigned kPciPins = 4;

constexpr uint8_t kEntryProcessor = 0;
constexpr uint8_t kEntryBus = 1;
constexpr uint8_t kEntryIoapic = 2;
constexpr uint8_t kEntryIoInterrupt = 3;
constexpr uint8_t kEntryLocalInterrupt = 4;

constexpr uint8_t kPciBus = 0;
constexpr uint8_t kIsaBus = 1;

constexpr uint8_t kCpuEnabled = 1u << 0;
constexpr uint8_t kCpuBsp = 1u << 1;
constexpr uint8_t kIoapicEnabled = 1u << 0;
constexpr uint8_t kLapicVersion = 0x14;   // integrated xAPIC, as KVM reports
constexpr uint8_t kIoapicVersion = 0x11;  // as KVM's IOAPIC version register reads

// A generic family-6 processor with an FPU and a local APIC; Linux only
// prints these.
constexpr uint32_t kCpuSignature = 6u << 8;
constexpr uint32_t kCpuFeatures = (1u << 0) | (1u << 9);

constexpr uint8_t kIntVectored = 0;
constexpr uint8_t kIntNmi = 1;
constexpr uint8_t kIntExtInt = 3;

// Interrupt flags: polarity in bits 1:0, trigger mode in bits 3:2; 0 is
// "conforms to the bus" (edge, active high for ISA).
constexpr uint16_t kFlagsConforming = 0;
constexpr uint16_t kFlagsActiveLow = 3u << 0;
constexpr uint16_t kFlagsLevel = 3u << 2;

constexpr uint8_t kAllLocalApics = 0xFF;

constexpr std::string_view kOemId = "KHYVE   ";        // 8 bytes
constexpr std::string_view kProductId = "KHYVE VM    ";  // 12 bytes
static_assert(kOemId.size() == 8 && kProductId.size() == 12);

void append_chars(Bytes& b, std::string_view s) { b.insert(b.end(), s.begin(), s.end()); }

void validate(const MpTableConfig& cfg, uint64_t base) {
    if (base % 16 != 0) throw Error("MP table base must be 16-byte aligned (the guest finds it by scanning)");
    if (base < kScanStart || base >= kScanEnd)
        throw Error("MP table base must lie in 0xF0000-0xFFFFF, where the guest scans for it");
    if (cfg.cpus == 0) throw Error("MP table needs at least one CPU");
    if (cfg.cpus > kMpTableMaxCpus)
        throw Error("MP table describes at most " + std::to_string(kMpTableMaxCpus) + " CPUs (8-bit APIC ids), not " +
                    std::to_string(cfg.cpus));
    for (const AcpiPciRoute& r : cfg.pci_routes) {
        if (r.slot >= kPciSlots || r.pin >= kPciPins || r.gsi >= kIoapicPins)
            throw Error("MP table PCI route slot " + std::to_string(r.slot) + " pin " + std::to_string(r.pin) +
                        " gsi " + std::to_string(r.gsi) + " is out of range");
    }
}

void append_io_interrupt(Bytes& b, uint8_t type, uint16_t flags, uint8_t bus, uint8_t bus_irq, uint8_t ioapic,
                         uint8_t pin) {
    append_le(b, kEntryIoInterrupt, 1);
    append_le(b, type, 1);
    append_le(b, flags, 2);
    append_le(b, bus, 1);
    append_le(b, bus_irq, 1);
    append_le(b, ioapic, 1);
    append_le(b, pin, 1);
}

void append_local_interrupt(Bytes& b, uint8_t type, uint8_t lint) {
    append_le(b, kEntryLocalInterrupt, 1);
    append_le(b, type, 1);
    append_le(b, kFlagsConforming, 2);
    append_le(b, kIsaBus, 1);
    append_le(b, 0, 1);  // source IRQ: unused for these
    append_le(b, kAllLocalApics, 1);
    append_le(b, lint, 1);
}

}  // namespace

std::vector<uint8_t> build_mptable(const MpTableConfig& cfg, uint64_t base) {
    validate(cfg, base);
    const uint64_t table_addr = base + kPointerSize;
    const auto ioapic_id = static_cast<uint8_t>(cfg.cpus);
    unsigned entries = 0;

    Bytes b;
    b.reserve(kPointerSize + kHeaderSize + cfg.cpus * kProcessorSize + 64 * kEntrySize);

    // Floating pointer structure.
    append_chars(b, "_MP_");
    append_le(b, table_addr, 4);
    append_le(b, 1, 1);  // length in 16-byte paragraphs
    append_le(b, kSpecRev, 1);
    append_le(b, 0, 1);  // checksum, below
    append_le(b, 0, 1);  // feature 1: 0 = a configuration table is present
    append_le(b, 0, 1);  // feature 2: IMCR clear, virtual wire mode
    append_le(b, 0, 3);
    put_checksum8(std::span(b).first(kPointerSize), 10);

    // Configuration table header; length, entry count and checksum follow.
    const size_t hdr = b.size();
    append_chars(b, "PCMP");
    append_le(b, 0, 2);  // base table length
    append_le(b, kSpecRev, 1);
    append_le(b, 0, 1);  // checksum
    append_chars(b, kOemId);
    append_chars(b, kProductId);
    append_le(b, 0, 4);  // no OEM table
    append_le(b, 0, 2);
    append_le(b, 0, 2);  // entry count
    append_le(b, layout::kLapicBase, 4);
    append_le(b, 0, 2);  // no extended table
    append_le(b, 0, 1);
    append_le(b, 0, 1);

    // Entries go in type order, as the spec requires.
    for (unsigned id = 0; id < cfg.cpus; ++id) {
        append_le(b, kEntryProcessor, 1);
        append_le(b, id, 1);
        append_le(b, kLapicVersion, 1);
        append_le(b, kCpuEnabled | (id == 0 ? kCpuBsp : 0), 1);
        append_le(b, kCpuSignature, 4);
        append_le(b, kCpuFeatures, 4);
        append_le(b, 0, 8);
        ++entries;
    }

    for (auto [id, name] : {std::pair{kPciBus, std::string_view{"PCI   "}}, std::pair{kIsaBus, std::string_view{"ISA   "}}}) {
        append_le(b, kEntryBus, 1);
        append_le(b, id, 1);
        append_chars(b, name);
        ++entries;
    }

    append_le(b, kEntryIoapic, 1);
    append_le(b, ioapic_id, 1);
    append_le(b, kIoapicVersion, 1);
    append_le(b, kIoapicEnabled, 1);
    append_le(b, layout::kIoapicBase, 4);
    ++entries;

    for (unsigned irq = 0; irq < kIsaIrqs; ++irq) {
        if (irq == kCascadeIrq) continue;
        const unsigned pin = irq == kPitIrq ? kPitPin : irq;
        append_io_interrupt(b, kIntVectored, kFlagsConforming, kIsaBus, static_cast<uint8_t>(irq), ioapic_id,
                            static_cast<uint8_t>(pin));
        ++entries;
    }
    for (const AcpiPciRoute& r : cfg.pci_routes) {
        // A PCI source IRQ names the device and its INTx pin, not a line.
        const auto source = static_cast<uint8_t>((r.slot << 2) | r.pin);
        append_io_interrupt(b, kIntVectored, kFlagsActiveLow | kFlagsLevel, kPciBus, source, ioapic_id,
                            static_cast<uint8_t>(r.gsi));
        ++entries;
    }

    append_local_interrupt(b, kIntExtInt, 0);
    append_local_interrupt(b, kIntNmi, 1);
    entries += 2;

    const size_t table_len = b.size() - hdr;
    if (base + b.size() > layout::kAcpiEnd)
        throw Error("MP table for " + std::to_string(cfg.cpus) + " CPUs (" + std::to_string(b.size()) +
                    " bytes) does not fit between its base and the end of the BIOS area");
    put_le_n(b, hdr + 4, table_len, 2);
    put_le_n(b, hdr + 34, entries, 2);
    put_checksum8(std::span(b).subspan(hdr, table_len), 7);
    return b;
}

}  // namespace khyve
