// Builders for diskboot tests: ext4 images from a directory tree (mke2fs -d,
// no root, no mount) and MBR/GPT/EBR tables written byte by byte around them.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "diskboot/crc32.h"
#include "diskboot/partition_table.h"

namespace khyve::diskboot::testutil {

namespace fs = std::filesystem;

inline void put32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[off + i] = uint8_t(v >> (8 * i));
}
inline void put64(std::vector<uint8_t>& b, size_t off, uint64_t v) {
    for (int i = 0; i < 8; ++i) b[off + i] = uint8_t(v >> (8 * i));
}

// A scratch directory removed with everything in it.
struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/khyve_diskboot_XXXXXX";
        if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

// A guest filesystem tree: regular files with contents, and symlinks.
struct Tree {
    std::map<std::string, std::string> files;
    std::map<std::string, std::string> links;  // path -> target text
    std::vector<std::string> dirs;
};

inline void write_file(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), std::streamsize(data.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
}

inline std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    std::vector<uint8_t> data(size_t(in.tellg()));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(data.data()), std::streamsize(data.size()));
    return data;
}

inline int run(const std::vector<std::string>& argv) {
    pid_t pid = ::fork();
    if (pid == 0) {
        int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string mke2fs_path() {
    for (const char* p : {"/sbin/mke2fs", "/usr/sbin/mke2fs", "/usr/bin/mke2fs"})
        if (::access(p, X_OK) == 0) return p;
    return {};
}

// An ext4 image of `mib` MiB holding `tree`, at `image`.
inline void make_ext4(const TempDir& tmp, const std::string& image, const Tree& tree, unsigned mib = 8) {
    static int counter = 0;
    fs::path root = tmp.path / ("tree" + std::to_string(counter++));
    fs::create_directories(root);
    for (const auto& d : tree.dirs) fs::create_directories(root / d.substr(1));
    for (const auto& [path, data] : tree.files) {
        fs::path p = root / path.substr(1);
        fs::create_directories(p.parent_path());
        write_file(p.string(), data);
    }
    for (const auto& [path, target] : tree.links) {
        fs::path p = root / path.substr(1);
        fs::create_directories(p.parent_path());
        fs::create_symlink(target, p);
    }
    std::string mke2fs = mke2fs_path();
    if (mke2fs.empty()) throw std::runtime_error("mke2fs not found");
    int rc = run({mke2fs, "-q", "-F", "-t", "ext4", "-d", root.string(), image, std::to_string(mib) + "M"});
    if (rc != 0) throw std::runtime_error("mke2fs failed: " + std::to_string(rc));
}

// Writes `data` into `disk` at byte offset `off`, growing the file if needed.
inline void write_at(const std::string& disk, uint64_t off, const std::vector<uint8_t>& data) {
    int fd = ::open(disk.c_str(), O_WRONLY | O_CREAT, 0644);
    if (fd < 0) throw std::runtime_error("open " + disk);
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, off_t(off + done));
        if (n <= 0) break;
        done += size_t(n);
    }
    ::close(fd);
}

inline void set_size(const std::string& disk, uint64_t size) {
    int fd = ::open(disk.c_str(), O_WRONLY | O_CREAT, 0644);
    if (fd < 0 || ::ftruncate(fd, off_t(size)) != 0) throw std::runtime_error("truncate " + disk);
    ::close(fd);
}

struct MbrPart {
    uint8_t type;
    uint32_t start, count;
    uint8_t status = 0;
};

// A boot sector with up to four entries and the 55 AA signature.
inline std::vector<uint8_t> mbr_sector(const std::vector<MbrPart>& parts) {
    std::vector<uint8_t> s(512, 0);
    for (size_t i = 0; i < parts.size() && i < 4; ++i) {
        size_t e = 446 + 16 * i;
        s[e] = parts[i].status;
        s[e + 4] = parts[i].type;
        put32(s, e + 8, parts[i].start);
        put32(s, e + 12, parts[i].count);
    }
    s[510] = 0x55;
    s[511] = 0xAA;
    return s;
}

struct GptPart {
    std::string type_guid;
    uint64_t first, last;
    unsigned slot;  // entry index: partition number - 1
};

struct GptImage {
    std::vector<uint8_t> header, entries;  // primary header sector and entry array
    std::vector<uint8_t> backup_header;
    uint64_t sectors;
};

inline void seal_header(std::vector<uint8_t>& h) {
    put32(h, 16, 0);
    uint32_t crc = crc32(std::span<const uint8_t>(h.data(), 92));
    put32(h, 16, crc);
}

// Entries and headers (primary at LBA 1 with its array at LBA 2, backup at
// the last sector with its array just before) for a disk of `sectors`.
inline GptImage gpt_layout(uint64_t sectors, const std::vector<GptPart>& parts, uint32_t count = 128) {
    GptImage g;
    g.sectors = sectors;
    g.entries.assign(size_t(count) * 128, 0);
    for (const auto& p : parts) {
        size_t e = size_t(p.slot) * 128;
        guid_from_string(p.type_guid, g.entries.data() + e);
        for (int i = 0; i < 16; ++i) g.entries[e + 16 + i] = uint8_t(p.slot * 16 + i + 1);
        put64(g.entries, e + 32, p.first);
        put64(g.entries, e + 40, p.last);
    }
    uint64_t array_sectors = (g.entries.size() + 511) / 512;
    auto header = [&](uint64_t my, uint64_t alt, uint64_t array_lba) {
        std::vector<uint8_t> h(512, 0);
        std::memcpy(h.data(), "EFI PART", 8);
        put32(h, 8, 0x00010000);
        put32(h, 12, 92);
        put64(h, 24, my);
        put64(h, 32, alt);
        put64(h, 40, 2 + array_sectors);
        put64(h, 48, sectors - 2 - array_sectors);
        for (int i = 0; i < 16; ++i) h[56 + i] = uint8_t(0xA0 + i);
        put64(h, 72, array_lba);
        put32(h, 80, count);
        put32(h, 84, 128);
        put32(h, 88, crc32(g.entries));
        seal_header(h);
        return h;
    };
    g.header = header(1, sectors - 1, 2);
    g.backup_header = header(sectors - 1, 1, sectors - 1 - array_sectors);
    return g;
}

inline void write_gpt(const std::string& disk, const GptImage& g) {
    uint64_t array_sectors = (g.entries.size() + 511) / 512;
    uint32_t pcount = g.sectors - 1 > 0xFFFFFFFFull ? 0xFFFFFFFFu : uint32_t(g.sectors - 1);
    write_at(disk, 0, mbr_sector({{0xEE, 1, pcount}}));
    write_at(disk, 512, g.header);
    write_at(disk, 1024, g.entries);
    write_at(disk, (g.sectors - 1 - array_sectors) * 512, g.entries);
    write_at(disk, (g.sectors - 1) * 512, g.backup_header);
}

// Copies a filesystem image into a disk image at byte offset `off`.
inline void place(const std::string& disk, uint64_t off, const std::string& fs_image) {
    write_at(disk, off, read_all(fs_image));
}

}  // namespace khyve::diskboot::testutil
