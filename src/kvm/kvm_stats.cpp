#include "kvm/kvm_stats.h"

#include <linux/kvm.h>
#include <unistd.h>

#include <cstring>

namespace khyve {

KvmStats::KvmStats(int fd) : fd_(fd) {
    if (!fd_.valid()) return;
    kvm_stats_header h{};
    if (::pread(fd, &h, sizeof h, 0) != ssize_t(sizeof h) || h.num_desc > 4096 ||
        h.name_size > 4096) {
        fd_.reset();
        return;
    }
    // The descriptor is 16 bytes then the name, as in C (C++ sizeof of the
    // uapi struct is wrong: see kvm_abi.h).
    constexpr size_t kDescHeader = 16;
    size_t desc_size = kDescHeader + h.name_size;
    std::vector<uint8_t> buf(desc_size * h.num_desc);
    if (::pread(fd, buf.data(), buf.size(), h.desc_offset) != ssize_t(buf.size())) {
        fd_.reset();
        return;
    }
    data_offset_ = h.data_offset;
    for (uint32_t i = 0; i < h.num_desc; ++i) {
        const uint8_t* d = buf.data() + i * desc_size;
        uint32_t offset;
        std::memcpy(&offset, d + 8, sizeof offset);  // flags(4) exponent(2) size(2) offset(4)
        const char* name = reinterpret_cast<const char*>(d + kDescHeader);
        descs_.push_back({std::string(name, strnlen(name, h.name_size)), offset});
    }
}

std::map<std::string, uint64_t> KvmStats::read() const {
    std::map<std::string, uint64_t> out;
    for (const auto& d : descs_) {
        uint64_t v = 0;
        if (::pread(fd_.get(), &v, sizeof v, data_offset_ + d.offset) == ssize_t(sizeof v))
            out[d.name] = v;
    }
    return out;
}

}  // namespace khyve
