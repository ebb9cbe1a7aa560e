// bhyveload -d DISK: find the Linux kernel, initrd and command line inside a
// raw guest disk image without mounting it. The search, in priority order
// over all ext2/3/4 partitions (in partition-number order within a kind):
//   1. extlinux/syslinux configuration,
//   2. Boot Loader Specification entries (systemd-boot's default choice),
//   3. Debian's /vmlinuz and /initrd.img symlinks (or the newest vmlinuz-*).
// Everything read from the image is treated as hostile.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace khyve::diskboot {

struct BootEntry {
    std::string label;
    std::string kernel_path, initrd_path, cmdline;
    unsigned partition = 0;  // Linux numbering (vdaN); 0 = the whole disk
    std::string source;      // "extlinux", "bls", "debian"
    // Further initrds loaded right after the first (BLS allows several
    // `initrd` lines, syslinux a comma list), e.g. CPU microcode first.
    std::vector<std::string> extra_initrd_paths;
};

struct DiskBootChoice {
    std::vector<BootEntry> entries;
    size_t default_index = 0;
    int timeout_seconds = -1;        // from the configuration; -1: not given
    std::vector<std::string> notes;  // what was skipped and why
};

// Throws Error("<image>: no Linux kernel found (looked for extlinux.conf,
// loader entries, /vmlinuz)"), "<image>: no ext2/3/4 filesystem found ...",
// or a partition-table error ("<image>: primary GPT header: CRC mismatch ...").
DiskBootChoice scan_disk(const std::string& image_path);

// One file from partition `partition` (symlinks followed inside the guest
// filesystem); throws Error beyond max_bytes.
std::vector<uint8_t> read_guest_file(const std::string& image_path, unsigned partition, const std::string& path,
                                     uint64_t max_bytes = uint64_t(1) << 30);

// Names in a guest directory; directories carry a trailing '/', symlinks '@'.
std::vector<std::string> list_guest_dir(const std::string& image_path, unsigned partition,
                                        const std::string& path);

struct LoadedBoot {
    std::vector<uint8_t> kernel;  // at most 256 MiB
    std::vector<uint8_t> initrd;  // all initrds back to back, 4-byte aligned; at most 1 GiB
    std::string cmdline;
};

// Reads an entry's kernel and initrd(s) in one pass over the image.
LoadedBoot load_boot_entry(const std::string& image_path, const BootEntry& entry);

}  // namespace khyve::diskboot
