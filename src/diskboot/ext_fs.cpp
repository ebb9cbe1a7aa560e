#include "diskboot/ext_fs.h"

// com_err.h has no C++ guards of its own.
extern "C" {
#include <et/com_err.h>
}
#include <ext2fs/ext2fs.h>

#include <cstring>
#include <deque>
#include <mutex>

#include "common/error.h"

namespace khyve::diskboot {
namespace {

constexpr unsigned kMaxSymlinks = 40;          // Linux's MAXSYMLINKS
constexpr size_t kMaxLinkTarget = 4096;        // PATH_MAX
constexpr size_t kMaxComponents = 4096;        // total work bound for one lookup

std::string ext2_message(errcode_t err) {
    static std::once_flag once;
    std::call_once(once, [] { initialize_ext2_error_table(); });
    return error_message(err);
}

FileType type_of_mode(uint16_t mode) {
    if (LINUX_S_ISREG(mode)) return FileType::Regular;
    if (LINUX_S_ISDIR(mode)) return FileType::Directory;
    if (LINUX_S_ISLNK(mode)) return FileType::Symlink;
    return FileType::Other;
}

std::deque<std::string> split(const std::string& path) {
    std::deque<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) out.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

std::string join(const std::vector<std::string>& names, const std::deque<std::string>& rest) {
    std::string s;
    for (const auto& n : names) s += "/" + n;
    for (const auto& n : rest) s += "/" + n;
    return s.empty() ? "/" : s;
}

// Reads a whole (already bounded) inode's data through the file API, which
// understands extents, block maps and inline data.
errcode_t read_inode_data(ext2_filsys fs, ext2_ino_t ino, uint64_t size, std::vector<uint8_t>& out) {
    ext2_file_t file;
    errcode_t err = ext2fs_file_open(fs, ino, 0, &file);
    if (err) return err;
    out.assign(size, 0);
    uint64_t done = 0;
    while (done < size) {
        unsigned int want = unsigned(std::min<uint64_t>(size - done, 1u << 20));
        unsigned int got = 0;
        err = ext2fs_file_read(file, out.data() + done, want, &got);
        if (err) break;
        if (got == 0) {
            err = EXT2_ET_SHORT_READ;
            break;
        }
        done += got;
    }
    errcode_t cerr = ext2fs_file_close(file);
    return err ? err : cerr;
}

}  // namespace

ExtFs::ExtFs(const std::string& image, const Partition& part) : image_(image), partition_(part.number) {
    std::string opts = "offset=" + std::to_string(part.offset);
    ext2_filsys fs = nullptr;
    errcode_t err = ext2fs_open2(image.c_str(), opts.c_str(), EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
    if (err) {
        if (fs) ext2fs_free(fs);
        throw Error(where() + ": not a readable ext2/3/4 filesystem (" + ext2_message(err) + ")");
    }
    fs_ = fs;
    // A superblock claiming more blocks than its partition would have us
    // read the neighbours' data as ours.
    uint64_t blocks = ext2fs_blocks_count(fs->super);
    if (fs->blocksize == 0 || blocks > part.size / fs->blocksize) {
        ext2fs_close_free(&fs);
        fs_ = nullptr;
        throw Error(where() + ": filesystem (" + std::to_string(blocks) + " blocks) is larger than its partition");
    }
}

ExtFs::~ExtFs() {
    if (fs_) {
        ext2_filsys fs = fs_;
        ext2fs_close_free(&fs);
    }
}

std::string ExtFs::where() const {
    return partition_ == 0 ? image_ : image_ + " partition " + std::to_string(partition_);
}

std::string ExtFs::link_text(uint32_t ino) const {
    struct ext2_inode inode;
    if (ext2fs_read_inode(fs_, ino, &inode)) return {};
    uint64_t size = EXT2_I_SIZE(&inode);
    if (size == 0 || size > kMaxLinkTarget) return {};
    if (ext2fs_is_fast_symlink(&inode)) {
        // The target lives in i_block itself (at most 60 bytes).
        size = std::min<uint64_t>(size, sizeof inode.i_block);
        return std::string(reinterpret_cast<const char*>(inode.i_block), size_t(size));
    }
    std::vector<uint8_t> data;
    if (read_inode_data(fs_, ino, size, data)) return {};
    return std::string(data.begin(), data.end());
}

Resolved ExtFs::resolve(const std::string& path, bool follow_last) const {
    Resolved r;
    std::vector<ext2_ino_t> dirs{EXT2_ROOT_INO};  // dirs.back() is the current directory
    std::vector<std::string> names;               // names of dirs[1..], for error paths
    std::deque<std::string> rest = split(path);
    unsigned links = 0;
    size_t steps = 0;
    auto fail = [&](const std::string& why, const std::string& name) {
        std::deque<std::string> full = rest;
        full.push_front(name);
        r = Resolved{0, FileType::Missing, join(names, full), why};
        return r;
    };
    if (rest.empty()) return {EXT2_ROOT_INO, FileType::Directory, "/", {}};
    while (!rest.empty()) {
        if (++steps > kMaxComponents) return fail("path too long", "");
        std::string name = std::move(rest.front());
        rest.pop_front();
        if (name == ".") {
            if (rest.empty()) return {dirs.back(), FileType::Directory, join(names, {}), {}};
            continue;
        }
        if (name == "..") {
            // Lexical parent of the resolved directory: never above the root.
            if (dirs.size() > 1) {
                dirs.pop_back();
                names.pop_back();
            }
            if (rest.empty()) return {dirs.back(), FileType::Directory, join(names, {}), {}};
            continue;
        }
        if (name.size() > EXT2_NAME_LEN) return fail("name too long", name);
        ext2_ino_t ino = 0;
        errcode_t err = ext2fs_lookup(fs_, dirs.back(), name.c_str(), int(name.size()), nullptr, &ino);
        if (err || ino == 0) return fail("not found", name);
        struct ext2_inode inode;
        if (ext2fs_read_inode(fs_, ino, &inode)) return fail("unreadable inode", name);
        FileType t = type_of_mode(inode.i_mode);
        if (t == FileType::Symlink && (!rest.empty() || follow_last)) {
            if (++links > kMaxSymlinks) return fail("too many levels of symbolic links", name);
            std::string target = link_text(ino);
            if (target.empty()) return fail("unreadable symbolic link", name);
            if (target[0] == '/') {
                dirs.resize(1);
                names.clear();
            }
            auto parts = split(target);
            rest.insert(rest.begin(), parts.begin(), parts.end());
            if (rest.empty()) return {dirs.back(), FileType::Directory, join(names, {}), {}};
            continue;
        }
        if (rest.empty()) {
            names.push_back(name);
            return {ino, t, join(names, {}), {}};
        }
        if (t != FileType::Directory) return fail("not a directory", name);
        dirs.push_back(ino);
        names.push_back(name);
    }
    return r;  // not reached: the loop returns on its last component
}

std::string ExtFs::read_link(const std::string& path) const {
    Resolved r = resolve(path, false);
    if (r.type != FileType::Symlink) return {};
    return link_text(r.ino);
}

std::vector<uint8_t> ExtFs::read_file(const std::string& path, uint64_t max_bytes, const std::string& what) const {
    Resolved r = resolve(path);
    if (!r.ino) throw Error(where() + ": " + what + " " + path + ": " + r.error + " (" + r.path + ")");
    if (r.type != FileType::Regular) throw Error(where() + ": " + what + " " + path + " is not a regular file");
    struct ext2_inode inode;
    errcode_t err = ext2fs_read_inode(fs_, r.ino, &inode);
    if (err) throw Error(where() + ": " + what + " " + path + ": " + ext2_message(err));
    uint64_t size = EXT2_I_SIZE(&inode);
    if (size > max_bytes)
        throw Error(where() + ": " + what + " " + path + " is " + std::to_string(size) + " bytes, over the " +
                    std::to_string(max_bytes >> 20) + " MiB limit");
    std::vector<uint8_t> data;
    err = read_inode_data(fs_, r.ino, size, data);
    if (err) throw Error(where() + ": cannot read " + what + " " + path + ": " + ext2_message(err));
    return data;
}

namespace {

struct ListState {
    std::vector<DirEntry>* out;
    size_t max;
};

int list_cb(ext2_ino_t, int, struct ext2_dir_entry* d, int, int, char*, void* priv) {
    auto* st = static_cast<ListState*>(priv);
    int len = ext2fs_dirent_name_len(d);
    std::string name(d->name, size_t(len));
    if (name == "." || name == "..") return 0;
    FileType t = FileType::Other;
    switch (ext2fs_dirent_file_type(d)) {
        case EXT2_FT_REG_FILE: t = FileType::Regular; break;
        case EXT2_FT_DIR: t = FileType::Directory; break;
        case EXT2_FT_SYMLINK: t = FileType::Symlink; break;
        default: break;
    }
    st->out->push_back({std::move(name), t});
    return st->out->size() >= st->max ? DIRENT_ABORT : 0;
}

}  // namespace

std::vector<DirEntry> ExtFs::list_dir(const std::string& path, size_t max_entries) const {
    Resolved r = resolve(path);
    if (!r.ino) throw Error(where() + ": " + path + ": " + r.error);
    if (r.type != FileType::Directory) throw Error(where() + ": " + path + " is not a directory");
    std::vector<DirEntry> out;
    if (max_entries == 0) return out;
    ListState st{&out, max_entries};
    errcode_t err = ext2fs_dir_iterate2(fs_, r.ino, 0, nullptr, list_cb, &st);
    if (err) throw Error(where() + ": cannot list " + path + ": " + ext2_message(err));
    return out;
}

}  // namespace khyve::diskboot
