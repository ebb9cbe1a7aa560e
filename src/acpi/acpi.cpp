#include "acpi/acpi.h"

#include <cstring>
#include <string_view>

#include "acpi/dsdt.h"
#include "common/error.h"
#include "common/le_bytes.h"
#include "platform/layout.h"

namespace khyve {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr size_t kHeaderSize = 36;
constexpr size_t kRsdpSize = 36;
constexpr size_t kFacsSize = 64;
constexpr size_t kFadtSize = 276;  // revision 6

// Generic Address Structure address space ids and access sizes.
constexpr uint8_t kGasSystemIo = 1;
constexpr uint8_t kAccessByte = 1;
constexpr uint8_t kAccessWord = 2;
constexpr uint8_t kAccessDWord = 3;

// FADT Flags.
constexpr uint32_t kFadtWbinvd = 1u << 0;
constexpr uint32_t kFadtProcC1 = 1u << 2;
constexpr uint32_t kFadtSlpButton = 1u << 5;   // no fixed-feature sleep button
constexpr uint32_t kFadtFixRtc = 1u << 6;      // no RTC wake status in PM1
constexpr uint32_t kFadtTmrValExt = 1u << 8;   // 32-bit PM timer
constexpr uint32_t kFadtResetRegSup = 1u << 10;

// FADT IAPC_BOOT_ARCH.
constexpr uint16_t kBootLegacyDevices = 1u << 0;
constexpr uint16_t kBoot8042 = 1u << 1;
constexpr uint16_t kBootVgaNotPresent = 1u << 2;
constexpr uint16_t kBootPcieAspmControls = 1u << 4;
constexpr uint16_t kBootCmosRtcNotPresent = 1u << 5;

// MADT.
constexpr uint32_t kMadtPcatCompat = 1u << 0;
constexpr uint32_t kMadtEnabled = 1u << 0;
constexpr uint8_t kMadtLocalApic = 0;
constexpr uint8_t kMadtIoApic = 1;
constexpr uint8_t kMadtIntSrcOverride = 2;
constexpr uint8_t kMadtLocalApicNmi = 4;
constexpr uint8_t kMadtLocalX2Apic = 9;
constexpr uint8_t kMadtLocalX2ApicNmi = 10;
constexpr uint16_t kIntiActiveHigh = 1u << 0;
constexpr uint16_t kIntiEdge = 1u << 2;
constexpr uint16_t kIntiLevel = 3u << 2;
constexpr unsigned kMaxXApicId = 254;  // 255 is the xAPIC broadcast id

void put_chars(Bytes& b, size_t off, std::string_view s) { std::memcpy(b.data() + off, s.data(), s.size()); }

std::string padded_oem_id(const std::string& id) {
    if (id.size() > 6) throw Error("ACPI OEM id '" + id + "' is longer than 6 characters");
    return id + std::string(6 - id.size(), ' ');
}

// A table under construction: the header is written up front and the length
// and checksum are filled in by finish() once the body is complete.
class Table {
public:
    Table(std::string_view sig, uint8_t revision, const std::string& oem_id, size_t size = kHeaderSize)
        : b_(size, 0) {
        put_chars(b_, 0, sig);
        b_[8] = revision;
        put_chars(b_, 10, oem_id);
        put_chars(b_, 16, "KHYV");
        put_chars(b_, 20, sig);        // OEM table id "KHYV<sig>"
        put_le_n(b_, 24, 1, 4);        // OEM revision
        put_chars(b_, 28, "KHYV");    // creator id
        put_le_n(b_, 32, 1, 4);        // creator revision
    }
    Bytes& bytes() { return b_; }
    Bytes finish() {
        put_le_n(b_, 4, b_.size(), 4);
        put_checksum8(b_, 9);
        return std::move(b_);
    }

private:
    Bytes b_;
};

void put_gas(Bytes& b, size_t off, uint8_t space, uint8_t bit_width, uint8_t access, uint64_t address) {
    b.at(off) = space;
    b.at(off + 1) = bit_width;
    b.at(off + 2) = 0;  // bit offset
    b.at(off + 3) = access;
    put_le_n(b, off + 4, address, 8);
}

// The blob being laid out: tables are appended at aligned guest addresses.
class Blob {
public:
    explicit Blob(uint64_t base) : base_(base), data_(kRsdpSize, 0) {}
    uint64_t place(const Bytes& table, uint64_t align) {
        while ((base_ + data_.size()) % align != 0) data_.push_back(0);
        uint64_t addr = base_ + data_.size();
        data_.insert(data_.end(), table.begin(), table.end());
        return addr;
    }
    Bytes& data() { return data_; }

private:
    uint64_t base_;
    Bytes data_;
};

Bytes build_facs() {
    Bytes f(kFacsSize, 0);
    put_chars(f, 0, "FACS");
    put_le_n(f, 4, kFacsSize, 4);
    f[32] = 2;  // version
    return f;
}

Bytes build_dsdt(const AcpiConfig& cfg, const std::string& oem) {
    // Revision 2: AML integers are 64 bits wide.
    Table t("DSDT", 2, oem);
    Bytes body = build_dsdt_aml(cfg);
    t.bytes().insert(t.bytes().end(), body.begin(), body.end());
    return t.finish();
}

Bytes build_fadt(const AcpiConfig& cfg, const std::string& oem, uint64_t facs, uint64_t dsdt) {
    Table t("FACP", 6, oem, kFadtSize);
    Bytes& b = t.bytes();
    put_le_n(b, 36, facs, 4);              // FIRMWARE_CTRL
    put_le_n(b, 40, dsdt, 4);              // DSDT
    put_le_n(b, 46, layout::kSciIrq, 2);   // SCI_INT
    put_le_n(b, 48, 0, 4);                 // SMI_CMD: none, ACPI mode is permanent
    put_le_n(b, 56, layout::kPm1aEvt, 4);  // PM1a_EVT_BLK
    put_le_n(b, 64, layout::kPm1aCnt, 4);  // PM1a_CNT_BLK
    put_le_n(b, 76, layout::kPmTimer, 4);  // PM_TMR_BLK
    b[88] = 4;                             // PM1_EVT_LEN
    b[89] = 2;                             // PM1_CNT_LEN
    b[91] = 4;                             // PM_TMR_LEN
    put_le_n(b, 96, 101, 2);               // P_LVL2_LAT > 100: no C2
    put_le_n(b, 98, 1001, 2);              // P_LVL3_LAT > 1000: no C3
    uint16_t boot = kBootPcieAspmControls;
    if (cfg.com1 || cfg.com2 || cfg.i8042) boot |= kBootLegacyDevices;
    if (cfg.i8042) boot |= kBoot8042;
    if (!cfg.vga) boot |= kBootVgaNotPresent;
    if (!cfg.rtc) boot |= kBootCmosRtcNotPresent;
    put_le_n(b, 109, boot, 2);             // IAPC_BOOT_ARCH
    put_le_n(b, 112, kFadtWbinvd | kFadtProcC1 | kFadtSlpButton | kFadtFixRtc | kFadtTmrValExt | kFadtResetRegSup, 4);
    put_gas(b, 116, kGasSystemIo, 8, kAccessByte, layout::kResetPort);  // RESET_REG
    b[128] = layout::kResetValue;
    b[131] = 3;                            // FADT minor version: ACPI 6.3
    put_le_n(b, 132, facs, 8);            // X_FIRMWARE_CTRL
    put_le_n(b, 140, dsdt, 8);            // X_DSDT
    put_gas(b, 148, kGasSystemIo, 32, kAccessWord, layout::kPm1aEvt);   // X_PM1a_EVT_BLK
    put_gas(b, 172, kGasSystemIo, 16, kAccessWord, layout::kPm1aCnt);   // X_PM1a_CNT_BLK
    put_gas(b, 208, kGasSystemIo, 32, kAccessDWord, layout::kPmTimer);  // X_PM_TMR_BLK
    put_chars(b, 268, "KHYVE   ");        // hypervisor vendor identity
    return t.finish();
}

Bytes build_madt(const AcpiConfig& cfg, const std::string& oem) {
    Table t("APIC", 5, oem);
    Bytes& b = t.bytes();
    append_le(b, layout::kLapicBase, 4);
    append_le(b, kMadtPcatCompat, 4);
    bool any_x2apic = false;
    for (unsigned id = 0; id < cfg.cpus; ++id) {
        // The processor UID equals the APIC id and the _UID of \_SB.Cxxx.
        if (id <= kMaxXApicId) {
            append_le(b, kMadtLocalApic, 1);
            append_le(b, 8, 1);
            append_le(b, id, 1);  // processor UID
            append_le(b, id, 1);  // APIC id
            append_le(b, kMadtEnabled, 4);
        } else {
            any_x2apic = true;
            append_le(b, kMadtLocalX2Apic, 1);
            append_le(b, 16, 1);
            append_le(b, 0, 2);
            append_le(b, id, 4);  // x2APIC id
            append_le(b, kMadtEnabled, 4);
            append_le(b, id, 4);  // processor UID
        }
    }
    append_le(b, kMadtIoApic, 1);
    append_le(b, 12, 1);
    append_le(b, cfg.cpus <= kMaxXApicId ? cfg.cpus : 0, 1);  // IOAPIC id, after the CPUs'
    append_le(b, 0, 1);
    append_le(b, layout::kIoapicBase, 4);
    append_le(b, 0, 4);  // GSI base

    auto iso = [&](uint8_t irq, uint32_t gsi, uint16_t flags) {
        append_le(b, kMadtIntSrcOverride, 1);
        append_le(b, 10, 1);
        append_le(b, 0, 1);  // ISA bus
        append_le(b, irq, 1);
        append_le(b, gsi, 4);
        append_le(b, flags, 2);
    };
    // The PIT's IRQ0 arrives on IOAPIC pin 2, as on PC hardware.
    iso(0, 2, kIntiEdge | kIntiActiveHigh);
    iso(static_cast<uint8_t>(layout::kSciIrq), layout::kSciIrq, kIntiLevel | kIntiActiveHigh);

    // LINT1 of every local APIC is wired to NMI.
    append_le(b, kMadtLocalApicNmi, 1);
    append_le(b, 6, 1);
    append_le(b, 0xFF, 1);  // all processors
    append_le(b, kIntiEdge | kIntiActiveHigh, 2);
    append_le(b, 1, 1);     // LINT1
    if (any_x2apic) {
        append_le(b, kMadtLocalX2ApicNmi, 1);
        append_le(b, 12, 1);
        append_le(b, kIntiEdge | kIntiActiveHigh, 2);
        append_le(b, 0xFFFFFFFF, 4);  // all processors
        append_le(b, 1, 1);           // LINT1
        append_le(b, 0, 3);
    }
    return t.finish();
}

Bytes build_mcfg(const std::string& oem) {
    Table t("MCFG", 1, oem);
    Bytes& b = t.bytes();
    append_le(b, 0, 8);  // reserved
    append_le(b, layout::kEcamBase, 8);
    append_le(b, 0, 2);  // PCI segment group
    append_le(b, 0, 1);  // first bus
    append_le(b, layout::kEcamBuses - 1, 1);  // last bus
    append_le(b, 0, 4);
    return t.finish();
}

Bytes build_sdt(std::string_view sig, const std::string& oem, const std::vector<uint64_t>& tables, unsigned width) {
    Table t(sig, 1, oem);
    for (uint64_t addr : tables) append_le(t.bytes(), addr, width);
    return t.finish();
}

}  // namespace

std::vector<uint8_t> build_acpi_tables(const AcpiConfig& cfg, uint64_t base) {
    if (base % 16 != 0) throw Error("ACPI tables base must be 16-byte aligned (the RSDP is found by scanning)");
    if (cfg.cpus == 0) throw Error("ACPI tables need at least one CPU");
    const std::string oem = padded_oem_id(cfg.oem_id);
    const bool ecam = cfg.pci && cfg.ecam;

    Blob blob(base);
    uint64_t facs = blob.place(build_facs(), 64);
    uint64_t dsdt = blob.place(build_dsdt(cfg, oem), 16);
    std::vector<uint64_t> tables;
    tables.push_back(blob.place(build_fadt(cfg, oem, facs, dsdt), 16));
    tables.push_back(blob.place(build_madt(cfg, oem), 16));
    if (ecam) tables.push_back(blob.place(build_mcfg(oem), 16));
    uint64_t xsdt = blob.place(build_sdt("XSDT", oem, tables, 8), 16);
    uint64_t rsdt = blob.place(build_sdt("RSDT", oem, tables, 4), 16);

    Bytes& b = blob.data();
    if (base + b.size() > layout::kAcpiEnd || base + b.size() < base)
        throw Error("ACPI tables (" + std::to_string(b.size()) + " bytes at " + std::to_string(base) +
                    ") do not fit below the end of the ACPI area (" + std::to_string(layout::kAcpiEnd) + ")");

    put_chars(b, 0, "RSD PTR ");
    put_chars(b, 9, oem);
    b[15] = 2;                   // revision: ACPI 2.0+
    put_le_n(b, 16, rsdt, 4);
    put_le_n(b, 20, kRsdpSize, 4);
    put_le_n(b, 24, xsdt, 8);
    put_checksum8(std::span(b).first(20), 8);  // the ACPI 1.0 part
    put_checksum8(std::span(b).first(kRsdpSize), 32);
    return std::move(b);
}

}  // namespace khyve
