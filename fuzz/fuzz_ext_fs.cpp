// khyve's own ext2/3/4 path walking (ExtFs) over libext2fs on corrupted
// images: the input picks one of the mkfs.ext4 -d images in fuzz/ext_fs/
// (extents, metadata_csum, inline_data, ext2 block maps), patches bytes of it
// and names extra paths; the harness resolves, reads, lists and readlinks the
// boot scanner's paths and the input's. Contract: no crash or hang, Error
// for what cannot be read, results within their limits (file size, entry
// count, link target), a found path has an inode and a type, a missing one
// has an error.
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dirent.h>
#include <fstream>
#include <iterator>

#include "common/error.h"
#include "diskboot/ext_fs.h"

using namespace khyve;
using namespace khyve::diskboot;

namespace {

std::vector<std::vector<uint8_t>> g_images;
int g_fd = -1;
std::string g_path;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    std::vector<std::string> names;
    if (DIR* d = opendir(KHYVE_FUZZ_EXT_FS_DIR)) {
        while (dirent* e = readdir(d))
            if (std::string n = e->d_name; n.size() > 4 && n.ends_with(".img")) names.push_back(n);
        closedir(d);
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
        std::ifstream f(std::string(KHYVE_FUZZ_EXT_FS_DIR) + "/" + n, std::ios::binary);
        g_images.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    if (g_images.empty()) __builtin_trap();  // no images: nothing would be tested
    g_fd = memfd_create("ext_fs", MFD_CLOEXEC);
    g_path = "/proc/self/fd/" + std::to_string(g_fd);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    std::vector<uint8_t> img = g_images[in.ConsumeIntegralInRange<size_t>(0, g_images.size() - 1)];
    const unsigned patches = in.ConsumeIntegralInRange(0, 48);
    for (unsigned i = 0; i < patches && in.remaining_bytes() > 0; ++i) {
        // Mostly the metadata at the front (superblock, descriptors, bitmaps, inodes).
        size_t off = in.ConsumeBool() ? in.ConsumeIntegralInRange<size_t>(0, std::min<size_t>(img.size(), 0x8000) - 1)
                                      : in.ConsumeIntegralInRange<size_t>(0, img.size() - 1);
        img[off] = in.ConsumeIntegral<uint8_t>();
    }
    if (ftruncate(g_fd, 0) < 0 || pwrite(g_fd, img.data(), img.size(), 0) != ssize_t(img.size())) __builtin_trap();

    std::vector<std::string> paths = {"/boot/vmlinuz", "/boot/extlinux/extlinux.conf", "/extlinux.conf",
                                      "/boot", "/", "/etc", "/loop", "/boot/../../boot/./vmlinuz-6.1"};
    while (in.remaining_bytes() > 0 && paths.size() < 12) paths.push_back(in.ConsumeRandomLengthString(300));

    Partition part;
    part.offset = 0;
    part.size = img.size();
    try {
        ExtFs fs(g_path, part);
        constexpr uint64_t kMax = 1 << 20;
        for (const auto& p : paths) {
            Resolved r = fs.resolve(p);
            if ((r.ino == 0) != (r.type == FileType::Missing) || (r.ino == 0 && r.error.empty())) __builtin_trap();
            if (r.type == FileType::Symlink) __builtin_trap();  // the last link was followed
            Resolved l = fs.resolve(p, false);
            if ((l.ino == 0) != (l.type == FileType::Missing)) __builtin_trap();
            if (fs.read_link(p).size() > 4096) __builtin_trap();
            try {
                if (r.type == FileType::Regular && fs.read_file(p, kMax).size() > kMax) __builtin_trap();
                if (r.type == FileType::Directory) {
                    auto list = fs.list_dir(p, 64);
                    if (list.size() > 64) __builtin_trap();
                    for (const auto& e : list)
                        if (e.name == "." || e.name == "..") __builtin_trap();
                }
            } catch (const Error&) {
            }
        }
    } catch (const Error&) {
    }
    return 0;
}
