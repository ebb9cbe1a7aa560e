#include "config/machine_config.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "config/config_tree.h"
#include "common/config_values.h"
#include "config/vm_name.h"
#include "platform/layout.h"
#include "platform/pci_emulation.h"

namespace khyve {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr unsigned kMaxTopology = 65535;

std::string size_text(uint64_t bytes) {
    if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
    return std::to_string(bytes) + " bytes";
}

unsigned node_number(const std::string& parent, const std::string& name, unsigned max, const char* what) {
    auto v = parse_decimal(name, max);
    if (!v)
        throw Error("configuration node '" + parent + "." + name + "': " + what + " must be a number 0-" +
                    std::to_string(max));
    return unsigned(*v);
}

// "1,3,8-11": the host CPUs one vCPU may run on.
std::vector<unsigned> parse_cpuset(const std::string& key, const std::string& list) {
    std::vector<unsigned> out;
    std::string_view rest = list;
    auto bad = [&] { return Error("invalid cpu set for " + key + ": '" + list + "'"); };
    while (true) {
        size_t comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        size_t dash = item.find('-');
        auto lo = parse_decimal(item.substr(0, dash), MachineConfig::kMaxHostCpu);
        auto hi = dash == std::string_view::npos ? lo
                                                 : parse_decimal(item.substr(dash + 1), MachineConfig::kMaxHostCpu);
        if (!lo || !hi || *hi < *lo) throw bad();
        for (uint64_t c = *lo; c <= *hi; ++c) out.push_back(unsigned(c));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return out;
}

void read_topology(const ConfigTree& t, MachineConfig& m) {
    bool explicit_cpus = t.has("cpus");
    uint64_t cpus = t.get_uint("cpus", 1, 1, kMaxTopology);
    m.cores = unsigned(t.get_uint("cores", 1, 1, kMaxTopology));
    m.threads = unsigned(t.get_uint("threads", 1, 1, kMaxTopology));
    // As bhyve: without sockets=, every vCPU is its own socket.
    m.sockets = unsigned(t.get_uint("sockets", cpus, 1, kMaxTopology));
    uint64_t product = uint64_t(m.sockets) * m.cores * m.threads;
    if (explicit_cpus && product != cpus)
        throw Error("cpu topology (" + std::to_string(m.sockets) + " sockets, " + std::to_string(m.cores) +
                    " cores, " + std::to_string(m.threads) + " threads) does not match " + std::to_string(cpus) +
                    " vCPUs");
    if (product > kMaxTopology) throw Error("cpu topology gives too many vCPUs: " + std::to_string(product));
    m.cpus = unsigned(product);
}

void read_pins(const ConfigTree& t, MachineConfig& m) {
    std::set<unsigned> pinned;
    for (const auto& name : t.children("vcpu")) {
        unsigned vcpu = node_number("vcpu", name, kMaxTopology, "the vCPU");
        std::string key = "vcpu." + name + ".cpuset";
        auto list = t.get(key);
        if (!list) continue;
        for (unsigned host : parse_cpuset(key, *list)) m.pins.push_back({vcpu, host});
        pinned.insert(vcpu);
    }
    if (t.has("pincpu")) {
        auto base = t.get_uint("pincpu", 0, 0, MachineConfig::kMaxHostCpu);
        for (unsigned v = 0; v < m.cpus; ++v)
            if (!pinned.count(v)) m.pins.push_back({v, unsigned(base + v)});
    }
    std::sort(m.pins.begin(), m.pins.end(), [](const PinConfig& a, const PinConfig& b) {
        return a.vcpu != b.vcpu ? a.vcpu < b.vcpu : a.host_cpu < b.host_cpu;
    });
}

// bhyve's guest NUMA domains (-n, numa.<id>.*). khyve builds no SRAT, so a
// guest has one domain: a single -n that holds all of the memory and every
// vCPU says just that and is accepted; anything else is refused by name.
void read_numa(const ConfigTree& t, const MachineConfig& m) {
    auto ids = t.children("numa");
    if (ids.empty()) return;
    for (const auto& key : t.keys()) {
        if (key.rfind("numa.", 0) != 0) continue;
        auto leaf = key.substr(key.rfind('.') + 1);
        if (leaf != "size" && leaf != "cpus" && leaf != "domain_policy")
            throw Error("unknown configuration key '" + key + "' (a NUMA domain takes size, cpus, domain_policy); see bhyve_config(5)");
    }
    if (ids.size() > 1)
        throw Error("-n: " + std::to_string(ids.size()) + " NUMA domains asked for, but khyve gives a guest one "
                    "(it builds no ACPI SRAT yet): give one -n with all memory and vCPUs, or none");
    const std::string node = "numa." + ids[0];
    node_number("numa", ids[0], 7, "the domain id");
    if (t.has(node + ".domain_policy"))
        throw Error("-n: domain_policy is a FreeBSD domainset(9) policy; on Linux start bhyve under numactl(8) instead");
    const auto size_opt = t.get_size(node + ".size");
    const auto cpu_list = t.get(node + ".cpus");
    if (!size_opt || !cpu_list) throw Error("-n: domain " + ids[0] + " needs a size and cpus");
    const uint64_t size = *size_opt;
    if (size != m.memory)
        throw Error("-n: domain " + ids[0] + " has " + std::to_string(size >> 20) + " MiB but the guest has " +
                    std::to_string(m.memory >> 20) + " MiB (-m): with one domain it holds all of it");
    auto cpus = parse_cpuset(node + ".cpus", *cpu_list);
    std::sort(cpus.begin(), cpus.end());
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    bool all = cpus.size() == m.cpus;
    for (unsigned i = 0; all && i < cpus.size(); ++i) all = cpus[i] == i;
    if (!all)
        throw Error("-n: domain " + ids[0] + " must hold every vCPU (0-" + std::to_string(m.cpus - 1) +
                    ") when it is the only one, not '" + *cpu_list + "'");
}

void read_pci(const ConfigTree& t, MachineConfig& m) {
    for (const auto& bus : t.children("pci")) {
        std::string bus_node = "pci." + bus;
        for (const auto& slot : t.children(bus_node)) {
            std::string slot_node = bus_node + "." + slot;
            for (const auto& fn : t.children(slot_node)) {
                std::string node = slot_node + "." + fn;
                if (t.has(bus_node) || t.has(slot_node) || t.has(node))
                    throw Error("configuration key '" + node + "' must be a pci.bus.slot.function node");
                PciDeviceConfig d;
                d.addr.bus = node_number("pci", bus, 255, "the bus");
                d.addr.slot = node_number(bus_node, slot, 31, "the slot");
                d.addr.function = node_number(slot_node, fn, 7, "the function");
                auto device = t.get(node + ".device");
                if (!device) throw Error("pci device " + node + " has no 'device' key");
                d.device = *device;
                d.options = t.leaves_under(node);
                d.options.erase("device");
                m.pci.push_back(std::move(d));
            }
            if (t.has(slot_node)) throw Error("configuration key '" + slot_node + "' must be a node");
        }
        if (t.has(bus_node)) throw Error("configuration key '" + bus_node + "' must be a node");
    }
    if (t.has("pci")) throw Error("configuration key 'pci' must be a node");
    std::sort(m.pci.begin(), m.pci.end(),
              [](const PciDeviceConfig& a, const PciDeviceConfig& b) { return a.addr < b.addr; });
}

void read_lpc(const ConfigTree& t, MachineConfig& m) {
    for (const auto& name : t.children("lpc")) {
        if (name == "bootrom") throw Error("UEFI boot ROMs are not supported; boot Linux with bhyveload");
        m.lpc.push_back({name, t.get("lpc." + name + ".path", "")});
    }
}

bool is_com_name(const std::string& n) { return n.size() == 4 && n.compare(0, 3, "com") == 0 && n[3] >= '1' && n[3] <= '4'; }

// Every key bhyve_config(5) documents outside the pci.*, lpc.* and vcpu.*
// nodes (whose keys are checked where they are read).
constexpr std::string_view kKnownKeys[] = {
    "name", "cpus", "sockets", "cores", "threads", "memory.size", "memory.highmem", "memory.wired",
    "memory.guest_in_core", "acpi_tables", "destroy_on_poweroff", "gdb.address", "gdb.port", "gdb.wait",
    "keyboard.layout", "pincpu", "rtc.use_localtime", "uuid", "virtio_msix", "config.dump", "khyve.seccomp",
    "khyve.user", "khyve.chroot",
    "x86.x2apic", "x86.mptable", "x86.strictio", "x86.strictmsr", "x86.vmexit_on_hlt", "x86.vmexit_on_pause",
};

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

// A key nobody reads is a typo that would silently change nothing
// (-o khyve.secomp=false kept the filters on): refuse it, naming the key
// it most likely meant.
void check_known_keys(const ConfigTree& t) {
    for (const auto& key : t.keys()) {
        if (key.rfind("pci.", 0) == 0 || key.rfind("lpc.", 0) == 0 || key.rfind("vcpu.", 0) == 0 ||
            key.rfind("numa.", 0) == 0)
            continue;
        bool known = false;
        std::string_view best;
        size_t best_d = 3;
        for (auto k : kKnownKeys) {
            if (k == key) known = true;
            size_t d = edit_distance(key, k);
            if (d < best_d) best_d = d, best = k;
        }
        if (known) continue;
        std::string msg = "unknown configuration key '" + key + "'";
        if (!best.empty()) msg += " (did you mean '" + std::string(best) + "'?)";
        throw Error(msg + "; see bhyve_config(5)");
    }
}

void check_lpc_keys(const ConfigTree& t) {
    for (const auto& full : t.keys()) {
        if (full.rfind("lpc.", 0) != 0) continue;
        const std::string key = full.substr(4);
        auto dot = key.find('.');
        // lpc.bootrom and friends are leaves read_lpc names itself.
        if (dot != std::string::npos && key.substr(dot) != ".path")
            throw Error("unknown configuration key 'lpc." + key + "' (an LPC device takes only 'path'); see bhyve_config(5)");
    }
}

void validate_device(const PciDeviceConfig& d) {
    if (d.addr.slot > 31 || d.addr.function > 7 || d.addr.bus > 255)
        throw Error("pci slot " + pci_address_text(d.addr) + " is out of range (bus 0-255, slot 0-31, function 0-7)");
    validate_pci_options(find_pci_emulation(d.device), d.addr, d.options);
}

}  // namespace

MachineConfig MachineConfig::from_tree(const ConfigTree& t) {
    MachineConfig m;
    auto name = t.get("name");
    if (!name) throw Error("missing VM name (configuration key 'name')");
    check_known_keys(t);
    check_lpc_keys(t);
    m.name = *name;
    read_topology(t, m);
    m.memory = t.get_size("memory.size", m.memory);
    m.highmem = t.get_size("memory.highmem");
    m.x2apic = t.get_bool("x86.x2apic", m.x2apic);
    m.acpi = t.get_bool("acpi_tables", m.acpi);
    m.yield_on_hlt = t.get_bool("x86.vmexit_on_hlt", m.yield_on_hlt);
    m.exit_on_unhandled_io = t.get_bool("x86.strictio", m.exit_on_unhandled_io);
    m.pause_exit = t.get_bool("x86.vmexit_on_pause", m.pause_exit);
    m.gdb_port = uint16_t(t.get_uint("gdb.port", 0, 0, 65535));
    m.gdb_address = t.get("gdb.address", m.gdb_address);
    m.gdb_wait = t.get_bool("gdb.wait", m.gdb_wait);
    m.strict_msrs = t.get_bool("x86.strictmsr", m.strict_msrs);
    m.seccomp = t.get_bool("khyve.seccomp", m.seccomp);
    m.run_as_user = t.get("khyve.user", "");
    m.chroot_dir = t.get("khyve.chroot", "");
    m.uuid = t.get("uuid", "");
    m.destroy_on_poweroff = t.get_bool("destroy_on_poweroff", m.destroy_on_poweroff);
    m.rtc_localtime = t.get_bool("rtc.use_localtime", m.rtc_localtime);
    m.wire_memory = t.get_bool("memory.wired", m.wire_memory);
    m.virtio_msix = t.get_bool("virtio_msix", m.virtio_msix);
    m.mptable = t.get_bool("x86.mptable", m.mptable);
    // Read only so a malformed value is reported; they change nothing on Linux.
    (void)t.get_bool("memory.guest_in_core");
    (void)t.get_bool("config.dump");
    read_pins(t, m);
    read_numa(t, m);
    read_pci(t, m);
    read_lpc(t, m);
    m.validate();
    return m;
}

void MachineConfig::validate() const {
    check_vm_name(name);
    // -D removes the VM object from /dev/vmm, which only root may do and a
    // chroot cannot see: the operator destroys it (bhyvectl --destroy).
    if (destroy_on_poweroff && (!run_as_user.empty() || !chroot_dir.empty()))
        throw Error("-D cannot go with khyve.user or khyve.chroot: the unprivileged bhyve cannot remove its VM "
                    "object; destroy it with bhyvectl --destroy");
    if (cpus < 1 || cpus > kMaxCpus)
        throw Error(std::to_string(cpus) + " vCPUs requested; khyve supports 1 to " + std::to_string(kMaxCpus));
    if (uint64_t(sockets) * cores * threads != cpus)
        throw Error("cpu topology (" + std::to_string(sockets) + " sockets, " + std::to_string(cores) + " cores, " +
                    std::to_string(threads) + " threads) does not match " + std::to_string(cpus) + " vCPUs");

    if (memory % kPageSize)
        throw Error("memory size " + std::to_string(memory) + " is not a multiple of the 4 KiB page size");
    if (memory < kMinMemory)
        throw Error("memory size " + size_text(memory) + " is below the minimum of " + size_text(kMinMemory));
    uint64_t total = memory;
    if (highmem) {
        if (memory > layout::kLowMemLimit)
            throw Error("with -M (memory.highmem), memory.size is the memory below 4 GiB and must not exceed " +
                        size_text(layout::kLowMemLimit) + "; it is " + size_text(memory));
        if (*highmem % kPageSize)
            throw Error("high memory size " + std::to_string(*highmem) +
                        " is not a multiple of the 4 KiB page size");
        if (*highmem > kMaxMemory) throw Error("high memory size " + size_text(*highmem) + " is too large");
        total += *highmem;
    }
    if (total > kMaxMemory)
        throw Error("memory size " + size_text(total) + " exceeds the maximum of " + size_text(kMaxMemory));

    for (const auto& p : pins) {
        if (p.vcpu >= cpus)
            throw Error("cannot pin vCPU " + std::to_string(p.vcpu) + ": the guest has " + std::to_string(cpus) +
                        " vCPUs (numbered from 0)");
        if (p.host_cpu > kMaxHostCpu)
            throw Error("cannot pin vCPU " + std::to_string(p.vcpu) + " to host CPU " + std::to_string(p.host_cpu) +
                        " (0-" + std::to_string(kMaxHostCpu) + ")");
    }

    std::set<PciAddress> seen;
    const PciDeviceConfig* lpc_bridge = nullptr;
    for (const auto& d : pci) {
        validate_device(d);
        if (!seen.insert(d.addr).second) throw Error("pci slot " + pci_address_text(d.addr) + " is used twice");
        if (d.device == "lpc") {
            if (lpc_bridge)
                throw Error("only one LPC bridge is allowed (at " + pci_address_text(lpc_bridge->addr) + " and " +
                            pci_address_text(d.addr) + ")");
            lpc_bridge = &d;
        }
    }
    // Guests probe functions 1-7 of a slot only when function 0 answers.
    for (const auto& a : seen)
        if (a.function != 0 && !seen.count(PciAddress{a.bus, a.slot, 0}))
            throw Error("pci slot " + pci_address_text(a) + " has no function 0 in its slot (" + std::to_string(a.bus) +
                        ":" + std::to_string(a.slot) + ":0); the guest would not find it");

    std::set<std::string> coms;
    for (const auto& l : lpc) {
        if (l.name == "bootrom") throw Error("UEFI boot ROMs are not supported; boot Linux with bhyveload");
        if (!is_com_name(l.name))
            throw Error("unknown LPC device '" + l.name + "' (khyve provides com1, com2, com3, com4)");
        if (!coms.insert(l.name).second) throw Error("LPC device " + l.name + " is configured twice");
    }

    if (gdb_port != 0 && gdb_address.empty()) throw Error("gdb.address is empty");
    if (!uuid.empty() && !is_valid_uuid(uuid)) throw Error("invalid uuid '" + uuid + "'");
}

}  // namespace khyve
