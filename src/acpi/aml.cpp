#include "acpi/aml.h"

#include <string>

#include "common/error.h"
#include "common/le_bytes.h"

namespace khyve::aml {
namespace {

// AML opcodes used here (ACPI 6.x section 20.3).
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0A;
constexpr uint8_t kWordPrefix = 0x0B;
constexpr uint8_t kDWordPrefix = 0x0C;
constexpr uint8_t kStringPrefix = 0x0D;
constexpr uint8_t kQWordPrefix = 0x0E;
constexpr uint8_t kScopeOp = 0x10;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kMethodOp = 0x14;
constexpr uint8_t kDualNamePrefix = 0x2E;
constexpr uint8_t kMultiNamePrefix = 0x2F;
constexpr uint8_t kExtOpPrefix = 0x5B;
constexpr uint8_t kDeviceOp = 0x82;  // after kExtOpPrefix
constexpr uint8_t kRootChar = '\\';
constexpr uint8_t kParentPrefixChar = '^';
constexpr uint8_t kReturnOp = 0xA4;
constexpr uint8_t kOnesOp = 0xFF;

// Resource descriptor tags (ACPI 6.x section 6.4).
constexpr uint8_t kSmallIrq = 0x04;
constexpr uint8_t kSmallIo = 0x08;
constexpr uint8_t kSmallEndTag = 0x0F;
constexpr uint8_t kLargeMemory32Fixed = 0x86;
constexpr uint8_t kLargeDWordAddress = 0x87;
constexpr uint8_t kLargeWordAddress = 0x88;
constexpr uint8_t kLargeExtendedIrq = 0x89;
constexpr uint8_t kLargeQWordAddress = 0x8A;

// Address space resource types and general flags.
constexpr uint8_t kSpaceMemory = 0;
constexpr uint8_t kSpaceIo = 1;
constexpr uint8_t kSpaceBus = 2;
constexpr uint8_t kGeneralConsumer = 1 << 0;
constexpr uint8_t kGeneralMinFixed = 1 << 2;
constexpr uint8_t kGeneralMaxFixed = 1 << 3;
constexpr uint8_t kIoEntireRange = 3;
constexpr uint8_t kMemReadWrite = 1;

void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

Bytes name_seg(std::string_view seg) {
    if (seg.empty() || seg.size() > 4) throw Error("AML name segment '" + std::string(seg) + "' must be 1..4 characters");
    Bytes out;
    for (size_t i = 0; i < 4; ++i) {
        char c = i < seg.size() ? seg[i] : '_';
        bool upper = c >= 'A' && c <= 'Z';
        bool digit = c >= '0' && c <= '9';
        if (!(upper || c == '_' || (digit && i > 0)))
            throw Error("AML name segment '" + std::string(seg) + "' has an invalid character");
        out.push_back(static_cast<uint8_t>(c));
    }
    return out;
}

Bytes large_descriptor(uint8_t tag, const Bytes& body) {
    Bytes out{tag};
    append_le(out, body.size(), 2);
    append(out, body);
    return out;
}

Bytes address_space(uint8_t tag, unsigned width, uint8_t type, res::Usage usage, uint8_t type_flags,
                    uint64_t min, uint64_t max) {
    if (max < min) throw Error("AML address space descriptor with max below min");
    uint8_t general = kGeneralMinFixed | kGeneralMaxFixed;
    if (usage == res::Usage::kConsumer) general |= kGeneralConsumer;
    Bytes body{type, general, type_flags};
    append_le(body, 0, width);            // granularity
    append_le(body, min, width);
    append_le(body, max, width);
    append_le(body, 0, width);            // translation offset
    append_le(body, max - min + 1, width);  // wraps to 0 only for a full 64-bit range, which we never build
    return large_descriptor(tag, body);
}

}  // namespace

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) append(out, p);
    return out;
}

Bytes cat(const std::vector<Bytes>& parts) {
    Bytes out;
    for (const Bytes& p : parts) append(out, p);
    return out;
}

Bytes pkg_length(uint32_t value) {
    if (value <= 0x3F) return {static_cast<uint8_t>(value)};
    unsigned follow;
    if (value <= 0xFFF)
        follow = 1;
    else if (value <= 0xFFFFF)
        follow = 2;
    else if (value <= 0xFFFFFFF)
        follow = 3;
    else
        throw Error("AML PkgLength " + std::to_string(value) + " exceeds 2^28 - 1");
    // Lead byte: count of following bytes in bits 7-6, low nibble of the
    // value in bits 3-0; the following bytes carry the rest, low byte first.
    Bytes out{static_cast<uint8_t>((follow << 6) | (value & 0xF))};
    append_le(out, value >> 4, follow);
    return out;
}

Bytes with_pkg_length(const Bytes& content) {
    // The encoded length counts its own bytes, so try each size in turn.
    for (uint64_t own = 1; own <= 4; ++own) {
        uint64_t total = content.size() + own;
        uint64_t limit = own == 1 ? 0x3F : (1ull << (4 + 8 * (own - 1))) - 1;
        if (total <= limit) {
            Bytes out = pkg_length(static_cast<uint32_t>(total));
            append(out, content);
            return out;
        }
    }
    throw Error("AML object of " + std::to_string(content.size()) + " bytes is too large for PkgLength");
}

Bytes integer(uint64_t value) {
    if (value == 0) return {kZeroOp};
    if (value == 1) return {kOneOp};
    if (value == ~0ull) return {kOnesOp};
    Bytes out;
    if (value <= 0xFF) {
        out.push_back(kBytePrefix);
        append_le(out, value, 1);
    } else if (value <= 0xFFFF) {
        out.push_back(kWordPrefix);
        append_le(out, value, 2);
    } else if (value <= 0xFFFFFFFF) {
        out.push_back(kDWordPrefix);
        append_le(out, value, 4);
    } else {
        out.push_back(kQWordPrefix);
        append_le(out, value, 8);
    }
    return out;
}

Bytes string(std::string_view s) {
    Bytes out{kStringPrefix};
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u == 0 || u > 0x7F) throw Error("AML string must be ASCII without NUL");
        out.push_back(u);
    }
    out.push_back(0);
    return out;
}

Bytes name_string(std::string_view path) {
    Bytes out;
    if (!path.empty() && path.front() == kRootChar) {
        out.push_back(kRootChar);
        path.remove_prefix(1);
    } else {
        while (!path.empty() && path.front() == kParentPrefixChar) {
            out.push_back(kParentPrefixChar);
            path.remove_prefix(1);
        }
    }
    std::vector<Bytes> segs;
    while (!path.empty()) {
        size_t dot = path.find('.');
        segs.push_back(name_seg(path.substr(0, dot)));
        if (dot == std::string_view::npos) break;
        path.remove_prefix(dot + 1);
        if (path.empty()) throw Error("AML name ends with '.'");
    }
    if (segs.empty()) {
        if (out.empty()) throw Error("AML name is empty");
        out.push_back(0);  // NullName
    } else if (segs.size() == 2) {
        out.push_back(kDualNamePrefix);
    } else if (segs.size() > 2) {
        if (segs.size() > 255) throw Error("AML name has too many segments");
        out.push_back(kMultiNamePrefix);
        out.push_back(static_cast<uint8_t>(segs.size()));
    }
    for (const Bytes& s : segs) append(out, s);
    return out;
}

Bytes name(std::string_view n, const Bytes& value) { return cat({{kNameOp}, name_string(n), value}); }

Bytes package(const std::vector<Bytes>& elements) {
    if (elements.size() > 255) throw Error("AML Package has more than 255 elements");
    Bytes content{static_cast<uint8_t>(elements.size())};
    for (const Bytes& e : elements) append(content, e);
    return cat({{kPackageOp}, with_pkg_length(content)});
}

Bytes buffer(const Bytes& data) {
    return cat({{kBufferOp}, with_pkg_length(cat({integer(data.size()), data}))});
}

Bytes method(std::string_view n, unsigned args, bool serialized, const Bytes& body) {
    if (args > 7) throw Error("AML Method takes at most 7 arguments");
    auto flags = static_cast<uint8_t>(args | (serialized ? 0x08 : 0));
    return cat({{kMethodOp}, with_pkg_length(cat({name_string(n), {flags}, body}))});
}

Bytes return_value(const Bytes& value) { return cat({{kReturnOp}, value}); }

Bytes device(std::string_view n, const Bytes& body) {
    return cat({{kExtOpPrefix, kDeviceOp}, with_pkg_length(cat({name_string(n), body}))});
}

Bytes scope(std::string_view n, const Bytes& body) {
    return cat({{kScopeOp}, with_pkg_length(cat({name_string(n), body}))});
}

uint32_t eisa_id_value(std::string_view id) {
    auto hex = [&](char c) -> uint32_t {
        if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0');
        if (c >= 'A' && c <= 'F') return static_cast<uint32_t>(c - 'A' + 10);
        throw Error("EISAID '" + std::string(id) + "' must end in 4 upper-case hex digits");
    };
    if (id.size() != 7) throw Error("EISAID '" + std::string(id) + "' must be 7 characters");
    uint32_t letters = 0;
    for (int i = 0; i < 3; ++i) {
        if (id[i] < 'A' || id[i] > 'Z') throw Error("EISAID '" + std::string(id) + "' must start with 3 letters");
        letters = (letters << 5) | static_cast<uint32_t>(id[i] - 0x40);
    }
    // Big-endian on the wire: 15 bits of letters, then 4 hex digits; read
    // back as a little-endian DWORD that is the integer AML stores.
    uint8_t b[4] = {
        static_cast<uint8_t>(letters >> 8),
        static_cast<uint8_t>(letters),
        static_cast<uint8_t>((hex(id[3]) << 4) | hex(id[4])),
        static_cast<uint8_t>((hex(id[5]) << 4) | hex(id[6])),
    };
    return read_le<uint32_t>(b, 0);
}

Bytes eisa_id(std::string_view id) { return integer(eisa_id_value(id)); }

namespace res {

Bytes word_bus_number(uint16_t min, uint16_t max, Usage usage) {
    return address_space(kLargeWordAddress, 2, kSpaceBus, usage, 0, min, max);
}

Bytes word_io(uint16_t min, uint16_t max, Usage usage) {
    return address_space(kLargeWordAddress, 2, kSpaceIo, usage, kIoEntireRange, min, max);
}

Bytes dword_memory(uint32_t min, uint32_t max, Usage usage) {
    return address_space(kLargeDWordAddress, 4, kSpaceMemory, usage, kMemReadWrite, min, max);
}

Bytes qword_memory(uint64_t min, uint64_t max, Usage usage) {
    return address_space(kLargeQWordAddress, 8, kSpaceMemory, usage, kMemReadWrite, min, max);
}

Bytes memory32_fixed(uint32_t base, uint32_t length) {
    Bytes body{kMemReadWrite};
    append_le(body, base, 4);
    append_le(body, length, 4);
    return large_descriptor(kLargeMemory32Fixed, body);
}

Bytes io(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length) {
    Bytes out{static_cast<uint8_t>((kSmallIo << 3) | 7), 1 /* 16-bit decode */};
    append_le(out, min, 2);
    append_le(out, max, 2);
    out.push_back(alignment);
    out.push_back(length);
    return out;
}

Bytes irq_no_flags(std::initializer_list<unsigned> irqs) {
    uint16_t mask = 0;
    for (unsigned irq : irqs) {
        if (irq > 15) throw Error("IRQ descriptor takes ISA IRQs 0..15");
        mask = static_cast<uint16_t>(mask | (1u << irq));
    }
    Bytes out{static_cast<uint8_t>((kSmallIrq << 3) | 2)};
    append_le(out, mask, 2);
    return out;
}

Bytes extended_interrupt(InterruptFlags flags, std::initializer_list<uint32_t> gsis) {
    if (gsis.size() == 0 || gsis.size() > 255) throw Error("Interrupt descriptor takes 1..255 interrupts");
    uint8_t f = static_cast<uint8_t>((flags.consumer ? 1 : 0) | (flags.edge ? 2 : 0) |
                                     (flags.active_low ? 4 : 0) | (flags.shared ? 8 : 0));
    Bytes body{f, static_cast<uint8_t>(gsis.size())};
    for (uint32_t g : gsis) append_le(body, g, 4);
    return large_descriptor(kLargeExtendedIrq, body);
}

}  // namespace res

Bytes resource_template(const std::vector<Bytes>& descriptors) {
    Bytes data = cat(descriptors);
    data.push_back(static_cast<uint8_t>((kSmallEndTag << 3) | 1));
    uint8_t sum = 0;
    for (uint8_t b : data) sum = static_cast<uint8_t>(sum + b);
    data.push_back(static_cast<uint8_t>(-sum));
    return buffer(data);
}

}  // namespace khyve::aml
