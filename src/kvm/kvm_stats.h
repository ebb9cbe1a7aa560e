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
    bool available() const { return fd_.valid(); }

private:
    struct Desc {
        std::string name;
        uint32_t offset;
    };
    Fd fd_;
    uint32_t data_offset_ = 0;
    std::vector<Desc> descs_;
};

}  // namespace khyve
