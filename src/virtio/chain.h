// A validated descriptor chain and the Reader/Writer that devices use to
// move data in and out of it. Queue::pop() builds a chain only after checking
// every descriptor (indices, loops, indirect tables, buffers wholly inside
// RAM, length sums, readable-before-writable), so a chain's host spans are
// safe to use for as long as guest memory stays mapped (the whole VM life).
//
// The guest can still change the bytes under us at any time (it owns the
// memory): read each field once into a local, validate the local, use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

namespace khyve {

struct Descriptor {
    uint64_t gpa = 0;
    uint32_t len = 0;
    bool writable = false;
    std::span<uint8_t> host;  // [gpa, gpa+len) in host memory, validated
};

class Reader;
class Writer;

class DescriptorChain {
public:
    DescriptorChain() = default;
    DescriptorChain(uint16_t head, std::vector<Descriptor> descriptors);

    // The head index, to hand back to Queue::add_used().
    uint16_t head() const { return head_; }
    // Readable descriptors first, then writable ones.
    std::span<const Descriptor> descriptors() const { return descs_; }
    uint32_t readable_bytes() const { return readable_bytes_; }
    uint32_t writable_bytes() const { return writable_bytes_; }

    // Fresh cursors over the readable / writable part.
    Reader reader() const;
    Writer writer() const;

private:
    uint16_t head_ = 0;
    std::vector<Descriptor> descs_;
    size_t first_writable_ = 0;
    uint32_t readable_bytes_ = 0;
    uint32_t writable_bytes_ = 0;
};

// Sequential cursor over a list of host spans. Base of Reader and Writer.
class ChainCursor {
public:
    // Bytes not yet consumed.
    size_t available() const { return remaining_; }
    // Bytes consumed so far.
    size_t consumed() const { return total_ - remaining_; }
    // Skips up to n bytes; returns how many were skipped.
    size_t skip(size_t n);
    // Zero-copy access (e.g. iovecs for io_uring): consumes up to max_bytes
    // and returns the host spans that cover them, in order.
    std::vector<std::span<uint8_t>> take_spans(size_t max_bytes);

protected:
    ChainCursor() = default;
    explicit ChainCursor(std::vector<std::span<uint8_t>> spans);
    // Copy out of the chain into dst / into the chain from src, from the
    // cursor position; each returns the bytes copied (at most available()).
    size_t copy_out(uint8_t* dst, size_t len);
    size_t copy_in(const uint8_t* src, size_t len);

private:
    // Walks up to len bytes from the cursor, fn(guest_piece, offset_in_len)
    // for each span piece, and consumes them.
    template <class Fn>
    size_t advance(size_t len, Fn&& fn);

    std::vector<std::span<uint8_t>> spans_;
    size_t index_ = 0;   // current span
    size_t offset_ = 0;  // inside spans_[index_]
    size_t total_ = 0;
    size_t remaining_ = 0;
};

// Reads the device-readable part of a chain.
class Reader : public ChainCursor {
public:
    Reader() = default;
    explicit Reader(const DescriptorChain& chain);

    // Copies min(dst.size(), available()) bytes; returns the count.
    size_t read(std::span<uint8_t> dst) { return copy_out(dst.data(), dst.size()); }
    // nullopt (and nothing consumed) if fewer than sizeof(T) bytes remain.
    template <class T>
    std::optional<T> read_obj() {
        static_assert(std::is_trivially_copyable_v<T>);
        if (available() < sizeof(T)) return std::nullopt;
        T v;
        copy_out(reinterpret_cast<uint8_t*>(&v), sizeof v);
        return v;
    }
    size_t bytes_read() const { return consumed(); }
};

// Writes the device-writable part of a chain.
class Writer : public ChainCursor {
public:
    Writer() = default;
    explicit Writer(const DescriptorChain& chain);

    // Copies min(src.size(), available()) bytes; returns the count.
    size_t write(std::span<const uint8_t> src) {
        return copy_in(src.data(), src.size());
    }
    // false (and nothing written) if fewer than sizeof(T) bytes remain.
    template <class T>
    bool write_obj(const T& v) {
        static_assert(std::is_trivially_copyable_v<T>);
        if (available() < sizeof(T)) return false;
        copy_in(reinterpret_cast<const uint8_t*>(&v), sizeof v);
        return true;
    }
    size_t bytes_written() const { return consumed(); }
};

}  // namespace khyve
