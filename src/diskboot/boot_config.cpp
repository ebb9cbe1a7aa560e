#include "diskboot/boot_config.h"

#include <algorithm>
#include <optional>

#include "common/error.h"
#include "diskboot/bls_config.h"
#include "diskboot/syslinux_config.h"
#include "diskboot/version_compare.h"

namespace khyve::diskboot {
namespace {

constexpr size_t kMaxDirScan = 4096;

std::string fs_name(const ExtFs& fs) {
    return fs.partition() == 0 ? "disk" : "partition " + std::to_string(fs.partition());
}

std::optional<std::string> read_text(const ExtFs& fs, const std::string& path, std::vector<std::string>& notes) {
    if (!fs.is_file(path)) return std::nullopt;
    try {
        auto data = fs.read_file(path, kMaxConfigBytes, "configuration file");
        return std::string(data.begin(), data.end());
    } catch (const Error& e) {
        notes.push_back(e.what());
        return std::nullopt;
    }
}

std::string dirname_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

std::string under(const std::string& dir, const std::string& path) {
    if (!path.empty() && path[0] == '/') return path;
    return dir == "/" ? "/" + path : dir + "/" + path;
}

// The canonical path of a regular file, or nullopt with a note.
std::optional<std::string> existing_file(const ExtFs& fs, const std::string& path) {
    Resolved r = fs.resolve(path);
    if (r.type != FileType::Regular) return std::nullopt;
    return r.path;
}

// Checks an entry's files and turns it into a BootEntry; nullopt (with a
// note) when something it names is missing. `locate` maps a path as written
// to the canonical path of an existing file.
template <class Locate>
std::optional<BootEntry> check_entry(const ConfigEntry& c, const std::string& source, const ExtFs& fs,
                                     const std::string& context, Locate locate, std::vector<std::string>& notes) {
    BootEntry b;
    b.label = c.label;
    b.cmdline = c.cmdline;
    b.partition = fs.partition();
    b.source = source;
    auto kernel = locate(c.kernel);
    if (!kernel) {
        notes.push_back(context + ": entry '" + c.id + "': kernel " + c.kernel + " not found");
        return std::nullopt;
    }
    b.kernel_path = *kernel;
    for (size_t i = 0; i < c.initrds.size(); ++i) {
        auto initrd = locate(c.initrds[i]);
        if (!initrd) {
            notes.push_back(context + ": entry '" + c.id + "': initrd " + c.initrds[i] + " not found");
            return std::nullopt;
        }
        if (i == 0) b.initrd_path = *initrd;
        else b.extra_initrd_paths.push_back(*initrd);
    }
    return b;
}

void add_parsed(DiskBootChoice& out, const ParsedConfig& cfg, const std::string& source, const ExtFs& fs,
                const std::string& context, auto locate) {
    for (const auto& n : cfg.notes) out.notes.push_back(context + ": " + n);
    for (size_t i = 0; i < cfg.entries.size(); ++i) {
        auto b = check_entry(cfg.entries[i], source, fs, context, locate, out.notes);
        if (!b) continue;
        if (i == cfg.default_index) out.default_index = out.entries.size();
        out.entries.push_back(std::move(*b));
    }
    out.timeout_seconds = cfg.timeout_seconds;
}

}  // namespace

DiskBootChoice find_extlinux(const ExtFs& fs) {
    DiskBootChoice out;
    for (const char* path : {"/boot/extlinux/extlinux.conf", "/extlinux/extlinux.conf",
                             "/boot/syslinux/syslinux.cfg", "/syslinux/syslinux.cfg"}) {
        auto text = read_text(fs, path, out.notes);
        if (!text) continue;
        std::string dir = dirname_of(path);
        std::string context = fs_name(fs) + " " + path;
        auto locate = [&](const std::string& p) { return existing_file(fs, under(dir, p)); };
        add_parsed(out, parse_syslinux(*text), "extlinux", fs, context, locate);
        if (!out.entries.empty()) return out;
    }
    return out;
}

DiskBootChoice find_bls(const ExtFs& fs) {
    DiskBootChoice out;
    std::vector<BlsEntry> all;
    for (const std::string dir : {"/loader/entries", "/boot/loader/entries"}) {
        if (fs.type_of(dir) != FileType::Directory) continue;
        std::vector<std::string> names;
        try {
            for (const auto& d : fs.list_dir(dir, kMaxDirScan))
                if (d.name.size() > 5 && d.name.compare(d.name.size() - 5, 5, ".conf") == 0) names.push_back(d.name);
        } catch (const Error& e) {
            out.notes.push_back(e.what());
            continue;
        }
        std::sort(names.begin(), names.end());
        bool boot_prefixed = dir.rfind("/boot/", 0) == 0;
        auto locate = [&](const std::string& p) -> std::optional<std::string> {
            std::string abs = p.empty() || p[0] != '/' ? "/" + p : p;
            if (auto found = existing_file(fs, abs)) return found;
            if (boot_prefixed) return existing_file(fs, "/boot" + abs);
            return std::nullopt;
        };
        for (const auto& name : names) {
            if (all.size() >= kMaxEntries) {
                out.notes.push_back(dir + ": more than " + std::to_string(kMaxEntries) + " entries; the rest ignored");
                break;
            }
            std::string path = dir + "/" + name;
            auto text = read_text(fs, path, out.notes);
            if (!text) continue;
            BlsEntry e;
            std::string why;
            if (!parse_bls_entry(*text, name, e, &why)) {
                out.notes.push_back(fs_name(fs) + " " + dir + ": " + why);
                continue;
            }
            // Check the files now so that ordering and the default only
            // consider bootable entries.
            auto b = check_entry(e.entry, "bls", fs, fs_name(fs) + " " + dir, locate, out.notes);
            if (!b) continue;
            e.entry.kernel = b->kernel_path;
            e.entry.initrds.clear();
            if (!b->initrd_path.empty()) e.entry.initrds.push_back(b->initrd_path);
            for (const auto& x : b->extra_initrd_paths) e.entry.initrds.push_back(x);
            all.push_back(std::move(e));
        }
    }
    if (all.empty()) return out;
    LoaderConf loader;
    for (const char* path : {"/loader/loader.conf", "/boot/loader/loader.conf"}) {
        if (auto text = read_text(fs, path, out.notes)) {
            loader = parse_loader_conf(*text);
            break;
        }
    }
    // Paths are already canonical; locate only needs to accept them.
    auto same = [](const std::string& p) -> std::optional<std::string> { return p; };
    add_parsed(out, order_bls_entries(std::move(all), loader), "bls", fs, fs_name(fs), same);
    return out;
}

namespace {

struct Located {
    const ExtFs* fs = nullptr;
    std::string path;
};

// A Debian symlink target under /boot/ that does not exist on the root
// filesystem is on the separate /boot filesystem, without the prefix.
std::optional<Located> locate_debian(const ExtFs& fs, const std::vector<const ExtFs*>& boot_filesystems,
                                     const std::string& path) {
    Resolved r = fs.resolve(path);
    if (r.type == FileType::Regular) return Located{&fs, r.path};
    if (r.ino != 0 || r.path.rfind("/boot/", 0) != 0) return std::nullopt;
    std::string rest = r.path.substr(5);
    for (const ExtFs* other : boot_filesystems) {
        if (other == &fs) continue;
        Resolved o = other->resolve(rest);
        if (o.type == FileType::Regular) return Located{other, o.path};
    }
    return std::nullopt;
}

const char* const kInitrdPatterns[][2] = {
    {"initrd.img-", ""}, {"initramfs-", ".img"}, {"initrd-", ".img"}, {"initrd-", ""}};

}  // namespace

DiskBootChoice find_debian(const ExtFs& fs, const std::vector<const ExtFs*>& boot_filesystems,
                           const std::string& root_device) {
    DiskBootChoice out;
    const std::string cmdline = "root=" + root_device + " ro console=ttyS0";
    auto add = [&](const std::string& label, const Located& kernel, const std::optional<Located>& initrd) {
        BootEntry b;
        b.label = label;
        b.kernel_path = kernel.path;
        b.partition = kernel.fs->partition();
        b.cmdline = cmdline;
        b.source = "debian";
        if (initrd && initrd->fs == kernel.fs) b.initrd_path = initrd->path;
        else if (initrd)
            out.notes.push_back(label + ": initrd " + initrd->path + " is on another filesystem than the kernel; ignored");
        for (const auto& e : out.entries)
            if (e.kernel_path == b.kernel_path && e.partition == b.partition) return;  // same kernel via two links
        out.entries.push_back(std::move(b));
    };

    const char* const pairs[][3] = {{"/vmlinuz", "/initrd.img", "Linux"},
                                    {"/boot/vmlinuz", "/boot/initrd.img", "Linux"},
                                    {"/vmlinuz.old", "/initrd.img.old", "Linux (previous)"},
                                    {"/boot/vmlinuz.old", "/boot/initrd.img.old", "Linux (previous)"}};
    for (const auto& p : pairs) {
        auto kernel = locate_debian(fs, boot_filesystems, p[0]);
        if (!kernel) continue;
        add(p[2], *kernel, locate_debian(fs, boot_filesystems, p[1]));
    }
    if (!out.entries.empty()) return out;

    // No links: the newest vmlinuz-VERSION, in /boot or at the root of a
    // separate /boot filesystem.
    for (const char* dir : {"/boot", "/"}) {
        if (fs.type_of(dir) != FileType::Directory) continue;
        std::vector<std::string> versions;
        try {
            for (const auto& d : fs.list_dir(dir, kMaxDirScan))
                if (d.name.rfind("vmlinuz-", 0) == 0 && d.name.size() > 8) versions.push_back(d.name.substr(8));
        } catch (const Error& e) {
            out.notes.push_back(e.what());
            continue;
        }
        std::sort(versions.begin(), versions.end(),
                  [](const std::string& a, const std::string& b) { return version_compare(a, b) > 0; });
        if (versions.size() > kMaxEntries) versions.resize(kMaxEntries);
        std::string prefix = std::string(dir) == "/" ? "/" : std::string(dir) + "/";
        for (const auto& v : versions) {
            auto kernel = existing_file(fs, prefix + "vmlinuz-" + v);
            if (!kernel) continue;
            std::optional<Located> initrd;
            for (const auto& pat : kInitrdPatterns) {
                if (auto f = existing_file(fs, prefix + pat[0] + v + pat[1])) {
                    initrd = Located{&fs, *f};
                    break;
                }
            }
            add("Linux " + v, Located{&fs, *kernel}, initrd);
        }
        if (!out.entries.empty()) return out;
    }
    return out;
}

}  // namespace khyve::diskboot
