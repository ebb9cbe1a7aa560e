#include "diskboot/disk_boot.h"

#include <memory>

#include "common/error.h"
#include "diskboot/boot_config.h"
#include "diskboot/ext_fs.h"
#include "diskboot/image_file.h"
#include "diskboot/partition_table.h"

namespace khyve::diskboot {
namespace {

bool may_hold_ext(PartKind k) {
    return k != PartKind::Extended && k != PartKind::Swap && k != PartKind::EfiSystem;
}

std::string device_of(unsigned partition) {
    return partition == 0 ? "/dev/vda" : "/dev/vda" + std::to_string(partition);
}

ExtFs open_partition(const std::string& image_path, unsigned partition) {
    ImageFile img(image_path);
    PartitionTable table = read_partition_table(img);
    return ExtFs(image_path, find_partition(table, partition, image_path));
}

}  // namespace

DiskBootChoice scan_disk(const std::string& image_path) {
    ImageFile img(image_path);
    PartitionTable table = read_partition_table(img);
    std::vector<std::string> notes;
    std::vector<std::unique_ptr<ExtFs>> filesystems;
    for (const auto& p : table.partitions) {
        if (!may_hold_ext(p.kind)) continue;
        try {
            filesystems.push_back(std::make_unique<ExtFs>(image_path, p));
        } catch (const Error& e) {
            notes.push_back(e.what());
        }
    }
    if (filesystems.empty()) {
        std::string what = table.kind == TableKind::None
                               ? "no partition table and no filesystem on the whole disk"
                               : std::to_string(table.partitions.size()) + " partition(s), none of them ext";
        throw Error(image_path + ": no ext2/3/4 filesystem found (" + what + ")");
    }

    auto finish = [&](DiskBootChoice c) {
        notes.insert(notes.end(), c.notes.begin(), c.notes.end());
        c.notes = std::move(notes);
        return c;
    };
    for (const auto& fs : filesystems) {
        DiskBootChoice c = find_extlinux(*fs);
        if (!c.entries.empty()) return finish(std::move(c));
        notes.insert(notes.end(), c.notes.begin(), c.notes.end());
    }
    for (const auto& fs : filesystems) {
        DiskBootChoice c = find_bls(*fs);
        if (!c.entries.empty()) return finish(std::move(c));
        notes.insert(notes.end(), c.notes.begin(), c.notes.end());
    }
    // The root filesystem is the first with an /etc/fstab; without one, the
    // filesystem holding the links is assumed to be root.
    const ExtFs* root = nullptr;
    for (const auto& fs : filesystems)
        if (!root && fs->is_file("/etc/fstab")) root = fs.get();
    std::vector<const ExtFs*> all;
    for (const auto& fs : filesystems) all.push_back(fs.get());
    for (const auto& fs : filesystems) {
        DiskBootChoice c = find_debian(*fs, all, device_of(root ? root->partition() : fs->partition()));
        if (!c.entries.empty()) return finish(std::move(c));
        notes.insert(notes.end(), c.notes.begin(), c.notes.end());
    }
    std::string msg = image_path + ": no Linux kernel found (looked for extlinux.conf, loader entries, /vmlinuz)";
    // The first skipped entry usually explains an unexpected miss.
    for (const auto& n : notes)
        if (n.find("entry '") != std::string::npos) {
            msg += "; " + n;
            break;
        }
    throw Error(msg);
}

std::vector<uint8_t> read_guest_file(const std::string& image_path, unsigned partition, const std::string& path,
                                     uint64_t max_bytes) {
    return open_partition(image_path, partition).read_file(path, max_bytes, "file");
}

std::vector<std::string> list_guest_dir(const std::string& image_path, unsigned partition,
                                        const std::string& path) {
    std::vector<std::string> out;
    for (const auto& d : open_partition(image_path, partition).list_dir(path)) {
        const char* mark = d.type == FileType::Directory ? "/" : d.type == FileType::Symlink ? "@" : "";
        out.push_back(d.name + mark);
    }
    return out;
}

LoadedBoot load_boot_entry(const std::string& image_path, const BootEntry& entry) {
    ExtFs fs = open_partition(image_path, entry.partition);
    LoadedBoot out;
    out.kernel = fs.read_file(entry.kernel_path, kMaxKernelBytes, "kernel");
    out.cmdline = entry.cmdline;
    std::vector<std::string> initrds;
    if (!entry.initrd_path.empty()) initrds.push_back(entry.initrd_path);
    initrds.insert(initrds.end(), entry.extra_initrd_paths.begin(), entry.extra_initrd_paths.end());
    for (const auto& path : initrds) {
        // cpio archives may be concatenated; the kernel skips the zero
        // padding that keeps each one 4-byte aligned.
        out.initrd.resize((out.initrd.size() + 3) & ~size_t(3));
        uint64_t budget = kMaxInitrdBytes - out.initrd.size();
        auto data = fs.read_file(path, budget, "initrd");
        out.initrd.insert(out.initrd.end(), data.begin(), data.end());
    }
    return out;
}

}  // namespace khyve::diskboot
