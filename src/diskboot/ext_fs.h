// Read-only access to one ext2/3/4 filesystem inside a disk image, through
// libext2fs: no mount, no root. Paths are resolved by our own walk so that
// absolute symlinks stay inside the guest filesystem, relative ones resolve
// from their directory, ".." stops at the root, and link depth is bounded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "diskboot/partition_table.h"

struct struct_ext2_filsys;

namespace khyve::diskboot {

inline constexpr uint64_t kMaxKernelBytes = 256ull << 20;
inline constexpr uint64_t kMaxInitrdBytes = 1ull << 30;
inline constexpr uint64_t kMaxConfigBytes = 1ull << 20;

enum class FileType { Missing, Regular, Directory, Symlink, Other };

struct DirEntry {
    std::string name;
    FileType type;
};

// Outcome of resolving a path. When resolution fails, `path` is the absolute
// path (symlinks expanded) that was being looked for, which lets a caller
// retry a dangling "/boot/..." target on a separate /boot filesystem.
struct Resolved {
    uint32_t ino = 0;  // 0: not found
    FileType type = FileType::Missing;
    std::string path;
    std::string error;  // why ino is 0
};

class ExtFs {
public:
    // Throws Error("<image> partition N: not an ext2/3/4 filesystem (...)").
    ExtFs(const std::string& image, const Partition& part);
    ~ExtFs();
    ExtFs(const ExtFs&) = delete;
    ExtFs& operator=(const ExtFs&) = delete;

    unsigned partition() const { return partition_; }

    Resolved resolve(const std::string& path, bool follow_last = true) const;
    FileType type_of(const std::string& path) const { return resolve(path).type; }
    bool is_file(const std::string& path) const { return type_of(path) == FileType::Regular; }

    // Target text of the symlink at `path` (its last component not followed);
    // empty if it is not a symlink.
    std::string read_link(const std::string& path) const;

    // Whole regular file, following symlinks; throws Error naming `what`
    // (e.g. "kernel") when missing, not a file, or larger than max_bytes.
    std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes,
                                   const std::string& what = "file") const;

    // Names in a directory (without "." and ".."), at most max_entries.
    std::vector<DirEntry> list_dir(const std::string& path, size_t max_entries = 4096) const;

private:
    std::string where() const;
    std::string link_text(uint32_t ino) const;

    struct_ext2_filsys* fs_ = nullptr;
    std::string image_;
    unsigned partition_ = 0;
};

}  // namespace khyve::diskboot
