// A qcow2 file from the input (in a memfd): the header is validated at open
// or refused with one khyve::Error; then every cluster of the first 64 MiB
// of the virtual disk is mapped. A data mapping must name a whole cluster
// inside the file, a compressed one bytes inside the file, and decompressing
// must end in 0 or -EIO: no read outside the file, no crash, no hang.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "image/qcow2.h"

using namespace khyve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Fd fd(::memfd_create("fuzz_qcow2", MFD_CLOEXEC));
    if (!fd.valid() || ::write(fd.get(), data, size) != ssize_t(size)) return 0;
    std::unique_ptr<qcow2::Image> img;
    try {
        img = qcow2::Image::open(std::move(fd), "fuzz.qcow2");
    } catch (const Error&) {
        return 0;
    }
    const uint64_t cs = img->cluster_size();
    const uint64_t end = std::min<uint64_t>(img->size(), 64ull << 20);
    std::vector<uint8_t> out(cs);
    unsigned decompressed = 0;
    for (uint64_t g = 0; g < end; g += cs) {
        auto m = img->map(g);
        if (m.kind == qcow2::Mapping::kData && (m.host_offset % cs || m.host_offset + cs > img->file_size()))
            __builtin_trap();
        if (m.kind == qcow2::Mapping::kCompressed) {
            if (m.host_offset + m.compressed_size > img->file_size()) __builtin_trap();
            if (decompressed++ < 16) {
                int r = img->read_compressed(m, out.data());
                if (r != 0 && r != -5) __builtin_trap();  // 0 or -EIO
            }
        }
    }
    return 0;
}
