#include "acpi/dsdt.h"

#include <set>
#include <string>
#include <utility>

#include "common/error.h"
#include "platform/layout.h"

namespace khyve {
namespace {

using aml::Bytes;
using aml::integer;
using aml::name;

Bytes processors(unsigned cpus) {
    // Names C000..CFFF: three hex digits of the processor UID.
    if (cpus > 0x1000) throw Error("ACPI: at most 4096 processors can be described");
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::vector<Bytes> devs;
    for (unsigned i = 0; i < cpus; ++i) {
        const char seg[] = {'C', kHex[(i >> 8) & 0xF], kHex[(i >> 4) & 0xF], kHex[i & 0xF], 0};
        devs.push_back(aml::device(seg, aml::cat({
            name("_HID", aml::string("ACPI0007")),
            name("_UID", integer(i)),
        })));
    }
    return aml::cat(devs);
}

Bytes pci_crs(const AcpiConfig& cfg) {
    namespace res = aml::res;
    std::vector<Bytes> d;
    // Bus 0 only: the bridge decodes no other (and MCFG covers just it).
    d.push_back(res::word_bus_number(0, 0));
    // The configuration mechanism #1 ports (and the reset register at 0xCF9)
    // belong to the bridge itself; the rest of the I/O space is forwarded.
    d.push_back(res::io(0xCF8, 0xCF8, 1, 8));
    d.push_back(res::word_io(0x0000, 0x0CF7));
    d.push_back(res::word_io(0x0D00, 0xFFFF));
    d.push_back(res::dword_memory(static_cast<uint32_t>(layout::kPciMmio32Base),
                                  static_cast<uint32_t>(layout::kPciMmio32End - 1)));
    if (cfg.mmio64_size != 0) {
        uint64_t last = cfg.mmio64_base + cfg.mmio64_size - 1;
        if (last < cfg.mmio64_base || cfg.mmio64_base < layout::kHighMemBase)
            throw Error("ACPI: 64-bit PCI window must lie above 4 GiB without wrapping");
        d.push_back(res::qword_memory(cfg.mmio64_base, last));
    }
    return aml::resource_template(d);
}

Bytes pci_prt(const std::vector<AcpiPciRoute>& routes) {
    std::set<std::pair<unsigned, unsigned>> seen;
    std::vector<Bytes> entries;
    for (const AcpiPciRoute& r : routes) {
        if (r.slot > 31 || r.pin > 3)
            throw Error("ACPI: PCI route slot " + std::to_string(r.slot) + " pin " + std::to_string(r.pin) +
                        " out of range");
        if (!seen.insert({r.slot, r.pin}).second)
            throw Error("ACPI: duplicate PCI route for slot " + std::to_string(r.slot));
        // Address: device in the high word, 0xFFFF = any function. A zero
        // Source means Source Index is the GSI itself, no link device.
        entries.push_back(aml::package({
            integer((uint64_t{r.slot} << 16) | 0xFFFF),
            integer(r.pin),
            integer(0),
            integer(r.gsi),
        }));
    }
    return aml::package(entries);
}

Bytes pci_host_bridge(const AcpiConfig& cfg) {
    return aml::device("PCI0", aml::cat({
        name("_HID", aml::eisa_id("PNP0A08")),
        name("_CID", aml::eisa_id("PNP0A03")),
        name("_UID", integer(0)),
        name("_BBN", integer(0)),
        name("_SEG", integer(0)),
        name("_CRS", pci_crs(cfg)),
        name("_PRT", pci_prt(cfg.pci_routes)),
    }));
}

// Linux uses MCFG only if the ECAM window is reserved by a motherboard
// resource device (otherwise it falls back to the e820 map, with a
// [Firmware Info] complaint).
Bytes ecam_reservation() {
    return aml::device("MRES", aml::cat({
        name("_HID", aml::eisa_id("PNP0C02")),
        name("_UID", integer(0)),
        name("_CRS", aml::resource_template({aml::res::memory32_fixed(
                         static_cast<uint32_t>(layout::kEcamBase), static_cast<uint32_t>(layout::kEcamSize))})),
    }));
}

Bytes serial_port(const char* dev, unsigned uid, uint16_t port, unsigned irq) {
    return aml::device(dev, aml::cat({
        name("_HID", aml::eisa_id("PNP0501")),
        name("_UID", integer(uid)),
        name("_CRS", aml::resource_template({
                         aml::res::io(port, port, 1, 8),
                         aml::res::irq_no_flags({irq}),
                     })),
    }));
}

}  // namespace

aml::Bytes build_dsdt_aml(const AcpiConfig& cfg) {
    std::vector<Bytes> sb;
    sb.push_back(processors(cfg.cpus));
    if (cfg.pci) sb.push_back(pci_host_bridge(cfg));
    if (cfg.pci && cfg.ecam) sb.push_back(ecam_reservation());
    if (cfg.com1) sb.push_back(serial_port("COM1", 1, layout::kCom1, layout::kCom1Irq));
    if (cfg.com2) sb.push_back(serial_port("COM2", 2, layout::kCom2, layout::kCom2Irq));

    return aml::cat({
        // SLP_TYPa, SLP_TYPb, two reserved.
        name("\\_S5", aml::package({integer(kAcpiS5SlpTyp), integer(kAcpiS5SlpTyp), integer(0), integer(0)})),
        aml::scope("\\_SB", aml::cat(sb)),
    });
}

}  // namespace khyve
