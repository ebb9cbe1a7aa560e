// Little-endian (and, for qcow2, big-endian) fields in byte buffers, and the 8-bit checksum that ACPI
// tables and the MP table carry: the one spelling for every multi-byte value
// laid out in a table, a config space or an on-disk or in-image structure,
// whatever the host's byte order.
//
// get_le: untrusted input (kernel images). Every read is bounds-checked; a
// field past the end yields nullopt so the caller can name what was truncated.
//
// read_le, put_le and the _n forms (width as data, at most 8 bytes): buffers
// we sized ourselves or have already checked, so a field past the end is a
// programming error and throws std::out_of_range, as vector::at does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace khyve {

namespace le_detail {

inline bool fits(size_t size, uint64_t off, size_t n) { return off <= size && n <= size - off; }

inline void check_width(size_t n) {
    if (n > sizeof(uint64_t)) throw std::out_of_range("little-endian field wider than 8 bytes");
}

inline void check(size_t size, uint64_t off, size_t n) {
    check_width(n);
    if (!fits(size, off, n)) throw std::out_of_range("little-endian field past the end of its buffer");
}

}  // namespace le_detail

inline uint64_t read_le_n(std::span<const uint8_t> buf, uint64_t off, size_t n) {
    le_detail::check(buf.size(), off, n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t(buf[off + i]) << (8 * i);
    return v;
}

inline void put_le_n(std::span<uint8_t> buf, uint64_t off, uint64_t v, size_t n) {
    le_detail::check(buf.size(), off, n);
    for (size_t i = 0; i < n; ++i) buf[off + i] = uint8_t(v >> (8 * i));
}

inline void append_le(std::vector<uint8_t>& buf, uint64_t v, size_t n) {
    le_detail::check_width(n);
    for (size_t i = 0; i < n; ++i) buf.push_back(uint8_t(v >> (8 * i)));
}

template <class T>
T read_le(std::span<const uint8_t> buf, uint64_t off) {
    static_assert(std::is_integral_v<T> && sizeof(T) <= sizeof(uint64_t));
    return static_cast<T>(read_le_n(buf, off, sizeof(T)));
}

template <class T>
std::optional<T> get_le(std::span<const uint8_t> buf, uint64_t off) {
    if (!le_detail::fits(buf.size(), off, sizeof(T))) return std::nullopt;
    return read_le<T>(buf, off);
}

template <class T>
void put_le(std::span<uint8_t> buf, uint64_t off, T v) {
    static_assert(std::is_integral_v<T> && sizeof(T) <= sizeof(uint64_t));
    put_le_n(buf, off, static_cast<uint64_t>(v), sizeof(T));
}

// Big-endian fields (qcow2's on-disk structures), checked as read_le.
inline uint64_t read_be_n(std::span<const uint8_t> buf, uint64_t off, size_t n) {
    le_detail::check(buf.size(), off, n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = v << 8 | buf[off + i];
    return v;
}

template <class T>
T read_be(std::span<const uint8_t> buf, uint64_t off) {
    static_assert(std::is_integral_v<T> && sizeof(T) <= sizeof(uint64_t));
    return static_cast<T>(read_be_n(buf, off, sizeof(T)));
}

// The sum of the bytes, modulo 256.
inline uint8_t sum8(std::span<const uint8_t> bytes) {
    uint8_t sum = 0;
    for (uint8_t b : bytes) sum = uint8_t(sum + b);
    return sum;
}

// The byte that, stored in the region's checksum field while that field is
// zero, makes the whole region sum to zero.
inline uint8_t checksum8(std::span<const uint8_t> region) { return uint8_t(-sum8(region)); }

// Fills in region[at], the region's checksum field, so that the region sums to
// zero.
inline void put_checksum8(std::span<uint8_t> region, size_t at) {
    le_detail::check(region.size(), at, 1);
    region[at] = 0;
    region[at] = checksum8(region);
}

}  // namespace khyve
