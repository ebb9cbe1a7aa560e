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
        uint32_t flags, offset;
        std::memcpy(&flags, d, sizeof flags);  // flags(4) exponent(2) size(2) offset(4)
        std::memcpy(&offset, d + 8, sizeof offset);
        const char* name = reinterpret_cast<const char*>(d + kDescHeader);
        descs_.push_back({std::string(name, strnlen(name, h.name_size)), offset, flags});
    }
}

bool KvmStats::read_one(const Desc& d, uint64_t& v) const {
    return ::pread(fd_.get(), &v, sizeof v, data_offset_ + d.offset) == ssize_t(sizeof v);
}

std::map<std::string, uint64_t> KvmStats::read() const {
    std::map<std::string, uint64_t> out;
    for (const auto& d : descs_) {
        uint64_t v = 0;
        if (read_one(d, v)) out[d.name] = v;
    }
    return out;
}

std::vector<KvmStats::Value> KvmStats::read_values() const {
    std::vector<Value> out;
    for (const auto& d : descs_) {
        Kind kind;
        switch (d.flags & KVM_STATS_TYPE_MASK) {
            case KVM_STATS_TYPE_CUMULATIVE: kind = Kind::Cumulative; break;
            case KVM_STATS_TYPE_INSTANT: kind = Kind::Instant; break;
            case KVM_STATS_TYPE_PEAK: kind = Kind::Peak; break;
            default: continue;  // histograms
        }
        uint64_t v = 0;
        if (read_one(d, v)) out.push_back({d.name, v, kind});
    }
    return out;
}

}  // namespace khyve
