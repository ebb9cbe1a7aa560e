// RAII heap buffer with a chosen alignment, for O_DIRECT bounce buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <utility>

namespace khyve {

class AlignedBuffer {
public:
    AlignedBuffer() = default;
    // Empty (data() == nullptr) if the allocation fails: callers on the guest
    // path turn that into an I/O error rather than an exception.
    AlignedBuffer(size_t align, size_t len) {
        void* p = nullptr;
        if (len && ::posix_memalign(&p, align, len) == 0) {
            data_ = static_cast<uint8_t*>(p);
            len_ = len;
        }
    }
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    AlignedBuffer(AlignedBuffer&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), len_(std::exchange(o.len_, 0)) {}
    AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
        if (this != &o) {
            std::free(data_);
            data_ = std::exchange(o.data_, nullptr);
            len_ = std::exchange(o.len_, 0);
        }
        return *this;
    }
    ~AlignedBuffer() { std::free(data_); }

    uint8_t* data() const { return data_; }
    size_t size() const { return len_; }

private:
    uint8_t* data_ = nullptr;
    size_t len_ = 0;
};

}  // namespace khyve
