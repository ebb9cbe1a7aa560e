// Little-endian field access on untrusted byte buffers (kernel images). Every
// read is bounds-checked; a field past the end yields nullopt so the caller can
// name what was truncated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace khyve::boot {

template <class T>
std::optional<T> get_le(std::span<const uint8_t> buf, uint64_t off) {
    if (off > buf.size() || sizeof(T) > buf.size() - off) return std::nullopt;
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t(buf[off + i]) << (8 * i);
    return static_cast<T>(v);
}

// Writes into a buffer we own and sized ourselves (the zero page), so an
// out-of-range offset is a programming error, not bad input.
template <class T>
void put_le(std::span<uint8_t> buf, size_t off, T v) {
    for (size_t i = 0; i < sizeof(T); ++i) buf[off + i] = uint8_t(uint64_t(v) >> (8 * i));
}

}  // namespace khyve::boot
