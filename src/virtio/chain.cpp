#include "virtio/chain.h"

#include <algorithm>
#include <cstring>

namespace khyve {

DescriptorChain::DescriptorChain(uint16_t head, std::vector<Descriptor> descriptors)
    : head_(head), descs_(std::move(descriptors)) {
    // Queue::pop() has already checked ordering and that each sum fits u32.
    first_writable_ = descs_.size();
    for (size_t i = 0; i < descs_.size(); ++i) {
        if (descs_[i].writable) {
            if (first_writable_ == descs_.size()) first_writable_ = i;
            writable_bytes_ += descs_[i].len;
        } else {
            readable_bytes_ += descs_[i].len;
        }
    }
}

Reader DescriptorChain::reader() const { return Reader(*this); }
Writer DescriptorChain::writer() const { return Writer(*this); }

ChainCursor::ChainCursor(std::vector<std::span<uint8_t>> spans) : spans_(std::move(spans)) {
    for (const auto& s : spans_) total_ += s.size();
    remaining_ = total_;
}

template <class Fn>
size_t ChainCursor::advance(size_t len, Fn&& fn) {
    size_t done = 0;
    while (done < len && index_ < spans_.size()) {
        auto& s = spans_[index_];
        size_t n = std::min(len - done, s.size() - offset_);
        fn(s.subspan(offset_, n), done);
        done += n;
        offset_ += n;
        if (offset_ == s.size()) {
            ++index_;
            offset_ = 0;
        }
    }
    remaining_ -= done;
    return done;
}

size_t ChainCursor::copy_out(uint8_t* dst, size_t len) {
    return advance(len, [dst](std::span<uint8_t> g, size_t at) { std::memcpy(dst + at, g.data(), g.size()); });
}

size_t ChainCursor::copy_in(const uint8_t* src, size_t len) {
    return advance(len, [src](std::span<uint8_t> g, size_t at) { std::memcpy(g.data(), src + at, g.size()); });
}

size_t ChainCursor::skip(size_t n) {
    return advance(n, [](std::span<uint8_t>, size_t) {});
}

std::vector<std::span<uint8_t>> ChainCursor::take_spans(size_t max_bytes) {
    std::vector<std::span<uint8_t>> out;
    size_t done = 0;
    while (done < max_bytes && index_ < spans_.size()) {
        auto& s = spans_[index_];
        size_t n = std::min(max_bytes - done, s.size() - offset_);
        if (n) out.push_back(s.subspan(offset_, n));
        done += n;
        offset_ += n;
        if (offset_ == s.size()) {
            ++index_;
            offset_ = 0;
        }
    }
    remaining_ -= done;
    return out;
}

namespace {
std::vector<std::span<uint8_t>> spans_of(std::span<const Descriptor> d, bool writable) {
    std::vector<std::span<uint8_t>> out;
    for (const auto& x : d)
        if (x.writable == writable && !x.host.empty()) out.push_back(x.host);
    return out;
}
}  // namespace

Reader::Reader(const DescriptorChain& chain) : ChainCursor(spans_of(chain.descriptors(), false)) {}
Writer::Writer(const DescriptorChain& chain) : ChainCursor(spans_of(chain.descriptors(), true)) {}

}  // namespace khyve
