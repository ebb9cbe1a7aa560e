#include "acpi/acpi.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <string>

#include "common/error.h"
#include "platform/layout.h"

namespace khyve {
namespace {

using Bytes = std::vector<uint8_t>;

// Read-only view of a built blob, addressed by guest physical address.
class Blob {
public:
    Blob(Bytes data, uint64_t base) : data_(std::move(data)), base_(base) {}

    size_t off(uint64_t gpa) const {
        EXPECT_GE(gpa, base_);
        EXPECT_LT(gpa - base_, data_.size());
        if (gpa < base_ || gpa - base_ >= data_.size()) throw std::out_of_range("address outside blob");
        return gpa - base_;
    }
    uint64_t le(size_t offset, unsigned bytes) const {
        if (offset + bytes > data_.size()) throw std::out_of_range("read past blob");
        uint64_t v = 0;
        for (unsigned i = 0; i < bytes; ++i) v |= uint64_t{data_[offset + i]} << (8 * i);
        return v;
    }
    std::string str(size_t offset, size_t len) const {
        if (offset + len > data_.size()) throw std::out_of_range("read past blob");
        return std::string(reinterpret_cast<const char*>(data_.data() + offset), len);
    }
    uint8_t sum(size_t offset, size_t len) const {
        if (offset + len > data_.size()) throw std::out_of_range("read past blob");
        return static_cast<uint8_t>(std::accumulate(data_.begin() + offset, data_.begin() + offset + len, 0u));
    }
    Bytes table(uint64_t gpa) const {
        size_t o = off(gpa);
        size_t len = le(o + 4, 4);
        if (o + len > data_.size()) throw std::out_of_range("table past blob");
        return Bytes(data_.begin() + o, data_.begin() + o + len);
    }
    const Bytes& data() const { return data_; }
    uint64_t base() const { return base_; }

    uint64_t xsdt() const { return le(24, 8); }
    uint64_t rsdt() const { return le(16, 4); }
    std::vector<uint64_t> xsdt_entries() const {
        size_t o = off(xsdt());
        std::vector<uint64_t> v;
        for (size_t p = 36; p < le(o + 4, 4); p += 8) v.push_back(le(o + p, 8));
        return v;
    }
    // Table address by signature, through the XSDT.
    uint64_t find(const std::string& sig) const {
        for (uint64_t a : xsdt_entries())
            if (str(off(a), 4) == sig) return a;
        return 0;
    }
    size_t fadt() const { return off(find("FACP")); }
    uint64_t dsdt() const { return le(fadt() + 140, 8); }
    uint64_t facs() const { return le(fadt() + 132, 8); }

private:
    Bytes data_;
    uint64_t base_;
};

AcpiConfig full_config() {
    AcpiConfig c;
    c.cpus = 4;
    c.com1 = true;
    c.com2 = true;
    c.pci_routes = {{1, 0, 16}, {2, 0, 17}, {2, 1, 18}, {3, 3, 19}};
    c.mmio64_base = 0x200000000ull;
    c.mmio64_size = 0x100000000ull;
    return c;
}

Blob build(const AcpiConfig& c, uint64_t base = layout::kAcpiBase) { return Blob(build_acpi_tables(c, base), base); }

bool contains(const Bytes& hay, const Bytes& needle) {
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}
bool contains(const Bytes& hay, const std::string& needle) { return contains(hay, Bytes(needle.begin(), needle.end())); }

TEST(AcpiRsdp, AtOffsetZeroWithBothChecksums) {
    Blob b = build(full_config());
    EXPECT_EQ(b.str(0, 8), "RSD PTR ");
    EXPECT_EQ(b.sum(0, 20), 0);
    EXPECT_EQ(b.sum(0, 36), 0);
    EXPECT_EQ(b.str(9, 6), "KHYVE ");
    EXPECT_EQ(b.le(15, 1), 2u);   // revision
    EXPECT_EQ(b.le(20, 4), 36u);  // length
    EXPECT_EQ(b.str(b.off(b.xsdt()), 4), "XSDT");
    EXPECT_EQ(b.str(b.off(b.rsdt()), 4), "RSDT");
    EXPECT_LE(b.base() + b.data().size(), layout::kAcpiEnd);
}

TEST(AcpiTables, EveryTableChecksumsAndFitsItsLength) {
    for (bool ecam : {true, false}) {
        AcpiConfig c = full_config();
        c.ecam = ecam;
        Blob b = build(c);
        std::vector<uint64_t> tables = b.xsdt_entries();
        tables.push_back(b.xsdt());
        tables.push_back(b.rsdt());
        tables.push_back(b.dsdt());
        for (uint64_t a : tables) {
            size_t o = b.off(a);
            size_t len = b.le(o + 4, 4);
            SCOPED_TRACE(b.str(o, 4));
            ASSERT_GE(len, 36u);
            ASSERT_LE(o + len, b.data().size());
            EXPECT_EQ(b.sum(o, len), 0);
            EXPECT_EQ(b.str(o + 10, 6), "KHYVE ");
            EXPECT_EQ(a % 4, 0u);
        }
    }
}

TEST(AcpiTables, XsdtAndRsdtListTheSameTables) {
    Blob b = build(full_config());
    std::vector<uint64_t> x = b.xsdt_entries();
    ASSERT_EQ(x.size(), 3u);
    EXPECT_EQ(b.str(b.off(x[0]), 4), "FACP");
    EXPECT_EQ(b.str(b.off(x[1]), 4), "APIC");
    EXPECT_EQ(b.str(b.off(x[2]), 4), "MCFG");
    size_t r = b.off(b.rsdt());
    ASSERT_EQ(b.le(r + 4, 4), 36u + 4 * x.size());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(b.le(r + 36 + 4 * i, 4), x[i]);
    EXPECT_EQ(b.le(b.off(b.xsdt()) + 8, 1), 1u);  // XSDT revision
}

TEST(AcpiTables, NoMcfgWithoutEcamOrPci) {
    AcpiConfig c = full_config();
    c.ecam = false;
    EXPECT_EQ(build(c).find("MCFG"), 0u);
    EXPECT_EQ(build(c).xsdt_entries().size(), 2u);
    c = full_config();
    c.pci = false;
    EXPECT_EQ(build(c).find("MCFG"), 0u);
}

TEST(AcpiTables, HonoursAnotherBase) {
    uint64_t base = layout::kAcpiBase + 0x1000;
    Blob b = build(full_config(), base);
    EXPECT_EQ(b.xsdt() & ~0xFFFull, base & ~0xFFFull);
    for (uint64_t a : b.xsdt_entries()) EXPECT_GE(a, base);
    EXPECT_GE(b.dsdt(), base);
}

TEST(AcpiFadt, PowerManagementFields) {
    Blob b = build(full_config());
    size_t f = b.fadt();
    EXPECT_EQ(b.le(f + 4, 4), 276u);
    EXPECT_EQ(b.le(f + 8, 1), 6u);          // revision
    EXPECT_EQ(b.le(f + 46, 2), layout::kSciIrq);
    EXPECT_EQ(b.le(f + 48, 4), 0u);         // SMI_CMD
    EXPECT_EQ(b.le(f + 56, 4), layout::kPm1aEvt);
    EXPECT_EQ(b.le(f + 60, 4), 0u);         // no PM1b
    EXPECT_EQ(b.le(f + 64, 4), layout::kPm1aCnt);
    EXPECT_EQ(b.le(f + 76, 4), layout::kPmTimer);
    EXPECT_EQ(b.le(f + 80, 4), 0u);         // no GPE0
    EXPECT_EQ(b.le(f + 88, 1), 4u);         // PM1_EVT_LEN
    EXPECT_EQ(b.le(f + 89, 1), 2u);         // PM1_CNT_LEN
    EXPECT_EQ(b.le(f + 91, 1), 4u);         // PM_TMR_LEN
    EXPECT_EQ(b.le(f + 92, 1), 0u);         // GPE0_BLK_LEN

    uint32_t flags = static_cast<uint32_t>(b.le(f + 112, 4));
    EXPECT_TRUE(flags & (1u << 8)) << "TMR_VAL_EXT";
    EXPECT_TRUE(flags & (1u << 10)) << "RESET_REG_SUP";
    EXPECT_FALSE(flags & (1u << 4)) << "PWR_BUTTON must be clear: fixed-feature power button";
    EXPECT_TRUE(flags & (1u << 5)) << "SLP_BUTTON set: no sleep button";
    EXPECT_FALSE(flags & (1u << 20)) << "not HW_REDUCED_ACPI";

    uint16_t boot = static_cast<uint16_t>(b.le(f + 109, 2));
    EXPECT_TRUE(boot & (1u << 2)) << "VGA not present";
    EXPECT_FALSE(boot & (1u << 3)) << "MSI not supported";
    EXPECT_TRUE(boot & (1u << 4)) << "PCIe ASPM controls";
    EXPECT_FALSE(boot & (1u << 1)) << "8042";
    EXPECT_FALSE(boot & (1u << 5)) << "CMOS RTC not present";
}

TEST(AcpiFadt, BootArchFollowsConfig) {
    AcpiConfig c = full_config();
    c.i8042 = true;
    c.vga = true;
    c.rtc = false;
    Blob b = build(c);
    uint16_t boot = static_cast<uint16_t>(b.le(b.fadt() + 109, 2));
    EXPECT_TRUE(boot & (1u << 1));
    EXPECT_FALSE(boot & (1u << 2));
    EXPECT_TRUE(boot & (1u << 5));
}

// Generic Address Structure at offset o: space, width, offset, access, address.
void expect_gas(const Blob& b, size_t o, uint8_t space, uint8_t width, uint64_t address) {
    EXPECT_EQ(b.le(o, 1), space);
    EXPECT_EQ(b.le(o + 1, 1), width);
    EXPECT_EQ(b.le(o + 2, 1), 0u);
    EXPECT_NE(b.le(o + 3, 1), 0u) << "access size";
    EXPECT_EQ(b.le(o + 4, 8), address);
}

TEST(AcpiFadt, ResetRegisterAndExtendedBlocks) {
    Blob b = build(full_config());
    size_t f = b.fadt();
    expect_gas(b, f + 116, 1, 8, layout::kResetPort);
    EXPECT_EQ(b.le(f + 128, 1), layout::kResetValue);
    // X_ blocks must agree with the 32-bit ones, widths with the lengths,
    // or ACPICA warns about a 32/64X mismatch.
    expect_gas(b, f + 148, 1, 32, layout::kPm1aEvt);
    expect_gas(b, f + 172, 1, 16, layout::kPm1aCnt);
    expect_gas(b, f + 208, 1, 32, layout::kPmTimer);
    EXPECT_EQ(b.le(f + 160 + 4, 8), 0u);  // X_PM1b_EVT_BLK
    EXPECT_EQ(b.le(f + 220 + 4, 8), 0u);  // X_GPE0_BLK
}

TEST(AcpiFadt, DsdtAndFacsPointersAgree) {
    Blob b = build(full_config());
    size_t f = b.fadt();
    EXPECT_EQ(b.le(f + 36, 4), b.facs());
    EXPECT_EQ(b.le(f + 40, 4), b.dsdt());
    EXPECT_EQ(b.str(b.off(b.dsdt()), 4), "DSDT");
    EXPECT_EQ(b.le(b.off(b.dsdt()) + 8, 1), 2u) << "DSDT revision 2: 64-bit integers";
    size_t facs = b.off(b.facs());
    EXPECT_EQ(b.facs() % 64, 0u);
    EXPECT_EQ(b.str(facs, 4), "FACS");
    EXPECT_EQ(b.le(facs + 4, 4), 64u);
    EXPECT_EQ(b.le(facs + 32, 1), 2u);  // version
}

struct MadtEntries {
    std::vector<std::pair<unsigned, unsigned>> lapic;   // (uid, apic id) of enabled local APICs
    std::vector<std::pair<unsigned, unsigned>> x2apic;  // (uid, x2apic id), enabled
    std::vector<std::array<uint64_t, 3>> ioapic;        // id, address, gsi base
    std::map<unsigned, std::pair<unsigned, unsigned>> overrides;  // irq -> (gsi, flags)
    std::vector<std::array<unsigned, 3>> nmi;           // uid, flags, lint
    unsigned x2nmi = 0;
};

MadtEntries parse_madt(const Blob& b) {
    size_t m = b.off(b.find("APIC"));
    size_t end = m + b.le(m + 4, 4);
    MadtEntries e;
    for (size_t p = m + 44; p < end;) {
        unsigned type = static_cast<unsigned>(b.le(p, 1));
        unsigned len = static_cast<unsigned>(b.le(p + 1, 1));
        if (len < 2 || p + len > end) {
            ADD_FAILURE() << "bad MADT entry length " << len;
            break;
        }
        switch (type) {
            case 0:
                EXPECT_EQ(len, 8u);
                EXPECT_EQ(b.le(p + 4, 4), 1u) << "enabled";
                e.lapic.emplace_back(b.le(p + 2, 1), b.le(p + 3, 1));
                break;
            case 1:
                EXPECT_EQ(len, 12u);
                e.ioapic.push_back({b.le(p + 2, 1), b.le(p + 4, 4), b.le(p + 8, 4)});
                break;
            case 2:
                EXPECT_EQ(len, 10u);
                EXPECT_EQ(b.le(p + 2, 1), 0u) << "ISA bus";
                e.overrides[static_cast<unsigned>(b.le(p + 3, 1))] = {b.le(p + 4, 4), b.le(p + 8, 2)};
                break;
            case 4:
                EXPECT_EQ(len, 6u);
                e.nmi.push_back({static_cast<unsigned>(b.le(p + 2, 1)), static_cast<unsigned>(b.le(p + 3, 2)),
                                 static_cast<unsigned>(b.le(p + 5, 1))});
                break;
            case 9:
                EXPECT_EQ(len, 16u);
                EXPECT_EQ(b.le(p + 8, 4), 1u) << "enabled";
                e.x2apic.emplace_back(b.le(p + 12, 4), b.le(p + 4, 4));
                break;
            case 10:
                EXPECT_EQ(len, 12u);
                EXPECT_EQ(b.le(p + 4, 4), 0xFFFFFFFFu);
                EXPECT_EQ(b.le(p + 8, 1), 1u);
                ++e.x2nmi;
                break;
            default:
                ADD_FAILURE() << "unexpected MADT entry type " << type;
        }
        p += len;
    }
    return e;
}

TEST(AcpiMadt, OneLocalApicPerCpu) {
    for (unsigned n : {1u, 2u, 4u, 16u, 255u}) {
        AcpiConfig c = full_config();
        c.cpus = n;
        Blob b = build(c);
        size_t m = b.off(b.find("APIC"));
        EXPECT_EQ(b.le(m + 36, 4), layout::kLapicBase);
        EXPECT_EQ(b.le(m + 40, 4) & 1, 1u) << "PCAT_COMPAT";
        MadtEntries e = parse_madt(b);
        // APIC id 255 is the xAPIC broadcast address, so it needs x2APIC.
        ASSERT_EQ(e.lapic.size(), std::min(n, 255u));
        for (unsigned i = 0; i < e.lapic.size(); ++i) EXPECT_EQ(e.lapic[i], std::make_pair(i, i));
        EXPECT_EQ(e.x2apic.size(), n - e.lapic.size());
        EXPECT_EQ(e.x2nmi, e.x2apic.empty() ? 0u : 1u);
    }
}

TEST(AcpiMadt, X2ApicBeyondId254) {
    AcpiConfig c = full_config();
    c.cpus = 300;
    MadtEntries e = parse_madt(build(c));
    ASSERT_EQ(e.lapic.size(), 255u);
    ASSERT_EQ(e.x2apic.size(), 45u);
    for (unsigned i = 0; i < 45; ++i) EXPECT_EQ(e.x2apic[i], std::make_pair(255 + i, 255 + i));
    EXPECT_EQ(e.x2nmi, 1u);
}

TEST(AcpiMadt, IoApicOverridesAndNmi) {
    MadtEntries e = parse_madt(build(full_config()));
    ASSERT_EQ(e.ioapic.size(), 1u);
    EXPECT_EQ(e.ioapic[0][0], 4u);  // id after the 4 CPUs
    EXPECT_EQ(e.ioapic[0][1], layout::kIoapicBase);
    EXPECT_EQ(e.ioapic[0][2], 0u);
    ASSERT_EQ(e.overrides.size(), 2u);
    ASSERT_TRUE(e.overrides.count(0));
    EXPECT_EQ(e.overrides[0].first, 2u);
    EXPECT_EQ(e.overrides[0].second & 0xC, 0x4u) << "edge";
    ASSERT_TRUE(e.overrides.count(layout::kSciIrq));
    EXPECT_EQ(e.overrides[layout::kSciIrq].first, layout::kSciIrq);
    EXPECT_EQ(e.overrides[layout::kSciIrq].second, 0xDu) << "level, active high";
    ASSERT_EQ(e.nmi.size(), 1u);
    EXPECT_EQ(e.nmi[0][0], 0xFFu);  // all processors
    EXPECT_EQ(e.nmi[0][2], 1u);     // LINT1
    EXPECT_EQ(e.x2nmi, 0u);
}

TEST(AcpiMcfg, CoversEcamBuses) {
    Blob b = build(full_config());
    size_t m = b.off(b.find("MCFG"));
    EXPECT_EQ(b.le(m + 4, 4), 60u);
    EXPECT_EQ(b.le(m + 44, 8), layout::kEcamBase);
    EXPECT_EQ(b.le(m + 52, 2), 0u);
    EXPECT_EQ(b.le(m + 54, 1), 0u);
    EXPECT_EQ(b.le(m + 55, 1), 0u) << "bus 0 only: Linux probes every bus MCFG covers";
    // The window spans exactly the layout's ECAM size.
    EXPECT_EQ((b.le(m + 55, 1) + 1) << 20, layout::kEcamSize);
}

TEST(AcpiDsdt, DescribesConfiguredDevices) {
    Blob b = build(full_config());
    Bytes d = b.table(b.dsdt());
    // Name (\_S5, Package (4) {5, 5, 0, 0})
    EXPECT_TRUE(contains(d, Bytes{0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00}));
    EXPECT_TRUE(contains(d, "PCI0"));
    EXPECT_TRUE(contains(d, "_PRT"));
    EXPECT_TRUE(contains(d, "_CRS"));
    EXPECT_TRUE(contains(d, Bytes{0x0C, 0x41, 0xD0, 0x0A, 0x08}));  // EISAID PNP0A08
    // _PRT entry for slot 3 INTD -> GSI 19: Package (4) {0x0003FFFF, 3, 0, 19}
    EXPECT_TRUE(contains(d, Bytes{0x12, 0x0C, 0x04, 0x0C, 0xFF, 0xFF, 0x03, 0x00, 0x0A, 0x03, 0x00, 0x0A, 0x13}));
    EXPECT_TRUE(contains(d, "COM1"));
    EXPECT_TRUE(contains(d, "COM2"));
    EXPECT_TRUE(contains(d, "C003"));
    EXPECT_FALSE(contains(d, "C004"));
    // 64-bit window: QWordMemory with min 0x2_0000_0000.
    EXPECT_TRUE(contains(d, Bytes{0x8A, 43, 0}));

    AcpiConfig c = full_config();
    c.com1 = c.com2 = false;
    c.pci = false;
    Blob sb = build(c);
    Bytes small = sb.table(sb.dsdt());
    EXPECT_FALSE(contains(small, "COM1"));
    EXPECT_FALSE(contains(small, "PCI0"));
    EXPECT_TRUE(contains(small, "_S5_"));
}

TEST(AcpiDsdt, BusRangeIsBusZero) {
    AcpiConfig c = full_config();
    c.mmio64_size = 0;
    // WordBusNumber (producer, min/max fixed): bus 0 to 0, with ECAM or not.
    Blob wb = build(c);
    Bytes with_ecam = wb.table(wb.dsdt());
    EXPECT_TRUE(contains(with_ecam, Bytes{0x88, 13, 0, 2, 0x0C, 0, 0, 0, 0, 0, 0x00, 0}));
    EXPECT_TRUE(contains(with_ecam, "MRES"));
    EXPECT_FALSE(contains(with_ecam, Bytes{0x8A, 43, 0}));
    c.ecam = false;
    Blob b = build(c);
    Bytes without = b.table(b.dsdt());
    EXPECT_TRUE(contains(without, Bytes{0x88, 13, 0, 2, 0x0C, 0, 0, 0, 0, 0, 0x00, 0}));
    EXPECT_FALSE(contains(without, "MRES"));
}

TEST(AcpiErrors, RejectsInvalidConfigurations) {
    EXPECT_THROW(build_acpi_tables(full_config(), layout::kAcpiBase + 8), Error);
    EXPECT_THROW(build_acpi_tables(full_config(), layout::kAcpiEnd - 0x100), Error);
    AcpiConfig c = full_config();
    c.cpus = 0;
    EXPECT_THROW(build_acpi_tables(c, layout::kAcpiBase), Error);
    c = full_config();
    c.oem_id = "TOOLONG";
    EXPECT_THROW(build_acpi_tables(c, layout::kAcpiBase), Error);
    c = full_config();
    c.pci_routes.push_back({1, 0, 20});
    EXPECT_THROW(build_acpi_tables(c, layout::kAcpiBase), Error) << "duplicate route";
    c = full_config();
    c.pci_routes = {{32, 0, 16}};
    EXPECT_THROW(build_acpi_tables(c, layout::kAcpiBase), Error);
    c.pci_routes = {{1, 4, 16}};
    EXPECT_THROW(build_acpi_tables(c, layout::kAcpiBase), Error);
    c = full_config();
    c.mmio64_base = ~0ull - 0xFFF;
    c.mmio64_size = 0x2000;
    EXPECT_THROW(build_acpi_tables(c, layout::kAcpiBase), Error);
    c = full_config();
    c.cpus = 4000;  // does not fit in 128 KiB
    EXPECT_THROW(build_acpi_tables(c, layout::kAcpiBase), Error);
}

TEST(AcpiErrors, ShortOemIdIsPadded) {
    AcpiConfig c = full_config();
    c.oem_id = "AB";
    Blob b = build(c);
    EXPECT_EQ(b.str(9, 6), "AB    ");
    EXPECT_EQ(b.str(b.off(b.dsdt()) + 10, 6), "AB    ");
}

// --- Decompilation with ACPICA's iasl, when installed -----------------------

bool have_iasl() { return std::system("command -v iasl >/dev/null 2>&1") == 0; }

// Runs a shell command; returns its exit status and combined output.
std::pair<int, std::string> run(const std::string& cmd) {
    std::string out;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return {-1, ""};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "khyve-acpi-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_file(const std::filesystem::path& p, const Bytes& data) {
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

bool mentions_problem(const std::string& s) {
    for (const char* w : {"Error", "Warning", "Invalid", "Unknown"})
        if (s.find(w) != std::string::npos) return true;
    return false;
}

TEST(AcpiIasl, DsdtDecompilesAndRecompilesCleanly) {
    if (!have_iasl()) GTEST_SKIP() << "iasl not installed (Debian package acpica-tools)";
    TempDir dir;
    Blob b = build(full_config());
    write_file(dir.path() / "dsdt.dat", b.table(b.dsdt()));
    auto [status, out] = run("cd '" + dir.path().string() + "' && iasl -d dsdt.dat");
    ASSERT_EQ(status, 0) << out;
    std::string dsl = slurp(dir.path() / "dsdt.dsl");
    EXPECT_FALSE(mentions_problem(out)) << out;
    EXPECT_NE(dsl.find("_S5"), std::string::npos) << dsl;
    EXPECT_NE(dsl.find("PCI0"), std::string::npos);
    EXPECT_NE(dsl.find("_PRT"), std::string::npos);
    EXPECT_NE(dsl.find("PNP0A08"), std::string::npos);
    EXPECT_NE(dsl.find("PNP0501"), std::string::npos);
    EXPECT_NE(dsl.find("QWordMemory"), std::string::npos);

    // Compiling the disassembly back applies iasl's semantic checks (for
    // example: a device must not have both _HID and _ADR).
    auto [cstatus, cout] = run("cd '" + dir.path().string() + "' && iasl -oa -p recompiled dsdt.dsl");
    EXPECT_EQ(cstatus, 0) << cout;
    EXPECT_NE(cout.find("0 Errors, 0 Warnings, 0 Remarks"), std::string::npos) << cout;
}

TEST(AcpiIasl, EveryTableDisassemblesWithoutComplaint) {
    if (!have_iasl()) GTEST_SKIP() << "iasl not installed (Debian package acpica-tools)";
    AcpiConfig c = full_config();
    c.cpus = 300;  // exercise x2APIC entries too
    Blob b = build(c);
    std::vector<uint64_t> tables = b.xsdt_entries();
    tables.push_back(b.xsdt());
    tables.push_back(b.rsdt());
    tables.push_back(b.facs());
    for (uint64_t a : tables) {
        TempDir dir;
        std::string sig = b.str(b.off(a), 4);
        SCOPED_TRACE(sig);
        write_file(dir.path() / "table.dat", b.table(a));
        auto [status, out] = run("cd '" + dir.path().string() + "' && iasl -d table.dat");
        ASSERT_EQ(status, 0) << out;
        std::string dsl = slurp(dir.path() / "table.dsl");
        EXPECT_FALSE(mentions_problem(out)) << out;
        EXPECT_FALSE(mentions_problem(dsl)) << dsl;
        EXPECT_NE(dsl.find("\"" + sig + "\""), std::string::npos) << dsl;
    }
}


// acpiexec runs the ACPICA core the Linux kernel embeds: it loads the tables,
// sets up the FADT registers and interprets the DSDT.
TEST(AcpiIasl, AcpiexecLoadsAndEvaluatesWithoutWarnings) {
    if (std::system("command -v acpiexec >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "acpiexec not installed (Debian package acpica-tools)";
    TempDir dir;
    Blob b = build(full_config());
    std::string files;
    for (uint64_t a : b.xsdt_entries()) {
        std::string name = b.str(b.off(a), 4) + ".dat";
        write_file(dir.path() / name, b.table(a));
        files += " " + name;
    }
    write_file(dir.path() / "DSDT.dat", b.table(b.dsdt()));
    files += " DSDT.dat";
    const std::vector<std::string> objects = {"\\_S5", "\\_SB.PCI0._CRS", "\\_SB.PCI0._PRT", "\\_SB.PCI0._HID",
                                              "\\_SB.MRES._CRS", "\\_SB.COM1._CRS", "\\_SB.COM2._CRS",
                                              "\\_SB.C003._UID"};
    std::string cmds;
    for (const std::string& o : objects) cmds += "evaluate " + o + "; ";
    auto [status, out] = run("cd '" + dir.path().string() + "' && timeout 60 acpiexec -b '" + cmds + "'" + files);
    EXPECT_EQ(status, 0) << out;
    // ACPICA prints "Firmware Warning"/"Firmware Error" here, "ACPI BIOS
    // Warning (bug)" in the kernel.
    for (const char* bad : {"Warning", "Error", "Exception", "AE_AML", "AE_NOT_FOUND"})
        EXPECT_EQ(out.find(bad), std::string::npos) << bad << " in:\n" << out;
    for (const std::string& o : objects)
        EXPECT_NE(out.find("Evaluation of " + o + " returned object"), std::string::npos) << o << " in:\n" << out;
}

}  // namespace
}  // namespace khyve
