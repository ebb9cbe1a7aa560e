// The validated description of one machine. bhyve's flags and `-o key=value`
// write keys of a ConfigTree (config_tree.h, documented in bhyve_config(5));
// MachineConfig::from_tree() reads the tree and validate()s it. The same tree
// serves the command line, `-k file` and the control API.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "platform/pci_address.h"

namespace khyve {

class ConfigTree;

struct PciDeviceConfig {
    PciAddress addr;
    std::string device;                         // "hostbridge", "virtio-blk", ...
    std::map<std::string, std::string> options; // the rest of pci.B.S.F.* (e.g. "path", "ro", "backend")
};

struct LpcDeviceConfig {
    std::string name;     // "com1".."com4"
    std::string backend;  // "stdio", a tty path, ...
};

struct PinConfig {
    unsigned vcpu;
    unsigned host_cpu;
};

struct MachineConfig {
    static constexpr unsigned kMaxCpus = 64;
    static constexpr unsigned kMaxHostCpu = 1023;            // CPU_SETSIZE - 1, as bhyve
    static constexpr uint64_t kPageSize = 4096;
    static constexpr uint64_t kMinMemory = 2ull << 20;       // 2 MiB
    static constexpr uint64_t kMaxMemory = 1ull << 40;       // 1 TiB, low + high

    std::string name;                 // VM name (last argument)
    unsigned cpus = 1;                // -c
    uint64_t memory = 256ull << 20;   // -m (total low+high unless -M given)
    std::optional<uint64_t> highmem;  // -M: RAM at 4 GiB; memory is then the RAM below 3 GiB
    bool x2apic = true;               // -a turns it off
    bool acpi = false;                // -A
    bool yield_on_hlt = false;        // -H
    bool exit_on_unhandled_io = false;// -e
    bool ioapic = true;               // -I (always present)
    bool pause_exit = false;          // -P
    uint16_t gdb_port = 0;            // -g / -G port, 0 = off
    std::string gdb_address = "127.0.0.1";
    bool gdb_wait = false;            // -G w...
    bool strict_msrs = true;          // x86.strictmsr; -w clears it (ignore unknown MSRs)
    std::vector<PinConfig> pins;      // -p
    std::vector<PciDeviceConfig> pci; // -s / -S, sorted by address; options %(var)-expanded
    std::vector<LpcDeviceConfig> lpc; // -l (and -s/-S slot,uart), sorted com1..com4; backend "" = unconnected
    bool seccomp = true;              // khyve.seccomp
    std::string run_as_user;          // khyve.user: drop to it once everything is open
    std::string chroot_dir;           // khyve.chroot: and make it the root
    unsigned sockets = 1, cores = 1, threads = 1;  // -c topology; sockets*cores*threads == cpus
    std::string uuid;                 // -U; empty: derive one (bhyve: from host and VM name)
    bool destroy_on_poweroff = false; // -D
    bool rtc_localtime = true;        // rtc.use_localtime; -u clears it (RTC in UTC)
    bool wire_memory = false;         // -S: mlock guest RAM
    bool virtio_msix = true;          // -W clears it: virtio uses single-vector MSI
    bool mptable = true;              // -Y clears it

    static MachineConfig from_tree(const ConfigTree& tree);  // throws Error
    void validate() const;                                   // throws Error
};

}  // namespace khyve
