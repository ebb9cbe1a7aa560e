// A small builder for ACPI Machine Language (AML) byte code: just enough of
// the grammar (ACPI 6.x section 20) to write a DSDT for khyve's machine.
//
// Every function returns the encoded bytes of one term; terms are composed by
// concatenation (cat). Invalid input (a malformed name, a package with too
// many elements, a length beyond what PkgLength can express) is a programming
// or configuration error on the set-up path and throws khyve::Error.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace khyve::aml {

using Bytes = std::vector<uint8_t>;

// Concatenation of terms, in order.
Bytes cat(std::initializer_list<Bytes> parts);
Bytes cat(const std::vector<Bytes>& parts);

// PkgLength encoding of `value`, a length that already counts the PkgLength
// bytes themselves: 1 byte up to 63, then 2, 3 or 4 bytes (at most 2^28 - 1).
Bytes pkg_length(uint32_t value);
// PkgLength followed by `content`, with the length chosen to cover both.
Bytes with_pkg_length(const Bytes& content);

// Integer constant in its shortest form: ZeroOp, OneOp, OnesOp (all 64 bits
// set; tables are revision 2, so integers are 64-bit), then Byte/Word/DWord/
// QWord prefixes.
Bytes integer(uint64_t value);
// String constant: ASCII 0x01..0x7F, NUL terminated.
Bytes string(std::string_view s);
// NameString: an optional root prefix '\' or parent prefixes '^', then
// dot-separated segments of 1..4 characters (padded with '_').
// "\" alone is the root (NullName after the prefix).
Bytes name_string(std::string_view path);

// Name (name, value)
Bytes name(std::string_view n, const Bytes& value);
// Package () {elements}; at most 255 elements.
Bytes package(const std::vector<Bytes>& elements);
// Buffer () {data}
Bytes buffer(const Bytes& data);
// Method (name, args, Serialized|NotSerialized) {body}; args 0..7.
Bytes method(std::string_view n, unsigned args, bool serialized, const Bytes& body);
// Return (value)
Bytes return_value(const Bytes& value);
// Device (name) {body}
Bytes device(std::string_view n, const Bytes& body);
// Scope (name) {body}
Bytes scope(std::string_view n, const Bytes& body);
// EISAID ("PNP0A03") as the 32-bit compressed integer.
uint32_t eisa_id_value(std::string_view id);
Bytes eisa_id(std::string_view id);

// Resource descriptors (ACPI 6.x section 6.4). Each returns one descriptor;
// resource_template() wraps a list of them into a Buffer with an end tag.
namespace res {

enum class Usage { kProducer, kConsumer };

// WordBusNumber / WordIO: min/max fixed, positive decode, granularity 0,
// translation 0; length = max - min + 1. IO windows decode the entire range.
Bytes word_bus_number(uint16_t min, uint16_t max, Usage usage = Usage::kProducer);
Bytes word_io(uint16_t min, uint16_t max, Usage usage = Usage::kProducer);
// DWordMemory / QWordMemory: read-write, non-cacheable, min/max fixed.
Bytes dword_memory(uint32_t min, uint32_t max, Usage usage = Usage::kProducer);
Bytes qword_memory(uint64_t min, uint64_t max, Usage usage = Usage::kProducer);
// Memory32Fixed (ReadWrite, base, length)
Bytes memory32_fixed(uint32_t base, uint32_t length);
// IO (Decode16, min, max, alignment, length)
Bytes io(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length);
// IRQNoFlags () {irqs}: ISA IRQs 0..15, edge, active high, exclusive.
Bytes irq_no_flags(std::initializer_list<unsigned> irqs);

struct InterruptFlags {
    bool consumer = true;
    bool edge = false;        // false: level triggered
    bool active_low = false;
    bool shared = false;
};
// Interrupt (consumer, trigger, polarity, sharing) {gsis}
Bytes extended_interrupt(InterruptFlags flags, std::initializer_list<uint32_t> gsis);

}  // namespace res

// ResourceTemplate () {descriptors}: a Buffer ending with an End Tag whose
// checksum byte makes the descriptor bytes sum to zero.
Bytes resource_template(const std::vector<Bytes>& descriptors);

}  // namespace khyve::aml
