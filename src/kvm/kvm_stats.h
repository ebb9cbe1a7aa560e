// KVM's binary statistics (KVM_GET_STATS_FD): the descriptors are read once,
// values are re-read with pread() from any thread without stopping the vCPU.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/fd.h"

namespace khyve {

class KvmStats {
public:
    KvmStats() = default;
    // Takes ownership of a stats fd; an invalid fd gives empty statistics.
    explicit KvmStats(int fd);
    // name -> value (the first u64 of each statistic).
    std::map<std::string, uint64_t> read() const;
    // The same with KVM's type (cumulative, instant, peak), in the kernel's
    // order, without histograms (their first bucket is not a value).
    enum class Kind { Cumulative, Instant, Peak };
    struct Value {
        std::string name;
        uint64_t value;
        Kind kind;
    };
    std::vector<Value> read_values() const;
    bool available() const { return fd_.valid(); }

private:
    struct Desc {
        std::string name;
        uint32_t offset;
        uint32_t flags;
    };
    bool read_one(const Desc& d, uint64_t& v) const;
    Fd fd_;
    uint32_t data_offset_ = 0;
    std::vector<Desc> descs_;
};

}  // namespace khyve
