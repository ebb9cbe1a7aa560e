#include "acpi/aml.h"

#include <gtest/gtest.h>

#include <numeric>

#include "common/error.h"

namespace khyve::aml {
namespace {

TEST(AmlPkgLength, OneByteUpTo63) {
    EXPECT_EQ(pkg_length(0), (Bytes{0x00}));
    EXPECT_EQ(pkg_length(1), (Bytes{0x01}));
    EXPECT_EQ(pkg_length(63), (Bytes{0x3F}));
}

TEST(AmlPkgLength, TwoBytesFrom64To4095) {
    // Lead byte: 01 in bits 7-6, low nibble in bits 3-0; next byte: value >> 4.
    EXPECT_EQ(pkg_length(64), (Bytes{0x40, 0x04}));
    EXPECT_EQ(pkg_length(0x123), (Bytes{0x43, 0x12}));
    EXPECT_EQ(pkg_length(4095), (Bytes{0x4F, 0xFF}));
}

TEST(AmlPkgLength, ThreeAndFourBytes) {
    EXPECT_EQ(pkg_length(4096), (Bytes{0x80, 0x00, 0x01}));
    EXPECT_EQ(pkg_length(0xFFFFF), (Bytes{0x8F, 0xFF, 0xFF}));
    EXPECT_EQ(pkg_length(0x100000), (Bytes{0xC0, 0x00, 0x00, 0x01}));
    EXPECT_EQ(pkg_length(0xFFFFFFF), (Bytes{0xCF, 0xFF, 0xFF, 0xFF}));
    EXPECT_THROW(pkg_length(0x10000000), Error);
}

TEST(AmlPkgLength, WrappedLengthCountsItself) {
    // 62 bytes + 1 length byte = 63 still fits in one byte.
    Bytes b = with_pkg_length(Bytes(62, 0xAA));
    ASSERT_EQ(b.size(), 63u);
    EXPECT_EQ(b[0], 63);
    // 63 bytes need the 2-byte form, whose value is 63 + 2 = 65.
    b = with_pkg_length(Bytes(63, 0xAA));
    ASSERT_EQ(b.size(), 65u);
    EXPECT_EQ(Bytes(b.begin(), b.begin() + 2), pkg_length(65));
    // 4093 + 2 = 4095 is the largest 2-byte value; 4094 needs 3 bytes.
    b = with_pkg_length(Bytes(4093, 0));
    EXPECT_EQ(Bytes(b.begin(), b.begin() + 2), pkg_length(4095));
    b = with_pkg_length(Bytes(4094, 0));
    EXPECT_EQ(Bytes(b.begin(), b.begin() + 3), pkg_length(4097));
    EXPECT_EQ(b.size(), 4097u);
}

TEST(AmlInteger, ShortestEncoding) {
    EXPECT_EQ(integer(0), (Bytes{0x00}));
    EXPECT_EQ(integer(1), (Bytes{0x01}));
    EXPECT_EQ(integer(~0ull), (Bytes{0xFF}));
    EXPECT_EQ(integer(2), (Bytes{0x0A, 0x02}));
    EXPECT_EQ(integer(0xFF), (Bytes{0x0A, 0xFF}));
    EXPECT_EQ(integer(0x100), (Bytes{0x0B, 0x00, 0x01}));
    EXPECT_EQ(integer(0xFFFF), (Bytes{0x0B, 0xFF, 0xFF}));
    EXPECT_EQ(integer(0x10000), (Bytes{0x0C, 0x00, 0x00, 0x01, 0x00}));
    EXPECT_EQ(integer(0xFFFFFFFF), (Bytes{0x0C, 0xFF, 0xFF, 0xFF, 0xFF}));
    EXPECT_EQ(integer(0x100000000ull), (Bytes{0x0E, 0, 0, 0, 0, 1, 0, 0, 0}));
    EXPECT_EQ(integer(0xFFFFFFFFFFFFFFFEull), (Bytes{0x0E, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}));
}

TEST(AmlString, NulTerminatedAscii) {
    EXPECT_EQ(string("AB"), (Bytes{0x0D, 'A', 'B', 0}));
    EXPECT_EQ(string(""), (Bytes{0x0D, 0}));
    EXPECT_THROW(string("\xC3\xA9"), Error);
}

TEST(AmlNameString, SegmentsAndPrefixes) {
    EXPECT_EQ(name_string("_HID"), (Bytes{'_', 'H', 'I', 'D'}));
    EXPECT_EQ(name_string("_S5"), (Bytes{'_', 'S', '5', '_'}));
    EXPECT_EQ(name_string("\\_SB"), (Bytes{'\\', '_', 'S', 'B', '_'}));
    EXPECT_EQ(name_string("\\_SB.PCI0"), (Bytes{'\\', 0x2E, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'}));
    EXPECT_EQ(name_string("\\_SB.PCI0.ISA"),
              (Bytes{'\\', 0x2F, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'I', 'S', 'A', '_'}));
    EXPECT_EQ(name_string("^^FOO"), (Bytes{'^', '^', 'F', 'O', 'O', '_'}));
    EXPECT_EQ(name_string("\\"), (Bytes{'\\', 0x00}));
}

TEST(AmlNameString, RejectsMalformedNames) {
    EXPECT_THROW(name_string(""), Error);
    EXPECT_THROW(name_string("TOOLONG"), Error);
    EXPECT_THROW(name_string("1ABC"), Error);
    EXPECT_THROW(name_string("abc"), Error);
    EXPECT_THROW(name_string("\\_SB."), Error);
    EXPECT_THROW(name_string("A..B"), Error);
}

TEST(AmlObjects, NameAndPackage) {
    EXPECT_EQ(name("_UID", integer(0)), (Bytes{0x08, '_', 'U', 'I', 'D', 0x00}));
    // Package (2) {1, 0x10}: PackageOp, PkgLength 5, NumElements 2, elements.
    EXPECT_EQ(package({integer(1), integer(0x10)}), (Bytes{0x12, 0x05, 0x02, 0x01, 0x0A, 0x10}));
    EXPECT_EQ(package({}), (Bytes{0x12, 0x02, 0x00}));
    EXPECT_THROW(package(std::vector<Bytes>(256, integer(0))), Error);
}

TEST(AmlObjects, BufferCarriesItsSize) {
    EXPECT_EQ(buffer({0xAA, 0xBB}), (Bytes{0x11, 0x05, 0x0A, 0x02, 0xAA, 0xBB}));
    EXPECT_EQ(buffer({}), (Bytes{0x11, 0x02, 0x00}));
}

TEST(AmlObjects, MethodDeviceScope) {
    // Method (_STA, 0, NotSerialized) { Return (0x0F) }
    EXPECT_EQ(method("_STA", 0, false, return_value(integer(0x0F))),
              (Bytes{0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xA4, 0x0A, 0x0F}));
    // Serialized with 2 arguments: flags 0x0A.
    EXPECT_EQ(method("M", 2, true, {})[6], 0x0A);
    EXPECT_THROW(method("M", 8, false, {}), Error);
    EXPECT_EQ(device("DEV", {}), (Bytes{0x5B, 0x82, 0x05, 'D', 'E', 'V', '_'}));
    EXPECT_EQ(scope("\\_SB", {0x01}), (Bytes{0x10, 0x07, '\\', '_', 'S', 'B', '_', 0x01}));
}

TEST(AmlObjects, LargeDeviceUsesLongPkgLength) {
    Bytes body(100, 0x01);
    Bytes d = device("BIG", body);
    // ExtOp, DeviceOp, 2-byte PkgLength covering itself + name + body.
    ASSERT_EQ(d.size(), 2u + 2 + 4 + 100);
    EXPECT_EQ(Bytes(d.begin() + 2, d.begin() + 4), pkg_length(2 + 4 + 100));
}

TEST(AmlEisaId, CompressesLikeIasl) {
    EXPECT_EQ(eisa_id_value("PNP0A03"), 0x030AD041u);
    EXPECT_EQ(eisa_id_value("PNP0A08"), 0x080AD041u);
    EXPECT_EQ(eisa_id_value("PNP0501"), 0x0105D041u);
    EXPECT_EQ(eisa_id("PNP0C02"), (Bytes{0x0C, 0x41, 0xD0, 0x0C, 0x02}));
    EXPECT_THROW(eisa_id_value("PNP0A0"), Error);
    EXPECT_THROW(eisa_id_value("pnp0A03"), Error);
    EXPECT_THROW(eisa_id_value("PNP0A0G"), Error);
}

TEST(AmlResources, WordBusNumber) {
    EXPECT_EQ(res::word_bus_number(0, 255),
              (Bytes{0x88, 13, 0, 2, 0x0C, 0x00, 0, 0, 0, 0, 0xFF, 0, 0, 0, 0x00, 0x01}));
}

TEST(AmlResources, WordIoWindowAndConsumer) {
    Bytes w = res::word_io(0x0D00, 0xFFFF);
    EXPECT_EQ(w, (Bytes{0x88, 13, 0, 1, 0x0C, 0x03, 0, 0, 0x00, 0x0D, 0xFF, 0xFF, 0, 0, 0x00, 0xF3}));
    EXPECT_EQ(res::word_io(0, 1, res::Usage::kConsumer)[4], 0x0D);
    EXPECT_THROW(res::word_io(2, 1), Error);
}

TEST(AmlResources, DWordAndQWordMemory) {
    Bytes d = res::dword_memory(0xC0000000, 0xDFFFFFFF);
    ASSERT_EQ(d.size(), 3u + 23);
    EXPECT_EQ(Bytes(d.begin(), d.begin() + 6), (Bytes{0x87, 23, 0, 0, 0x0C, 0x01}));
    EXPECT_EQ(Bytes(d.begin() + 10, d.begin() + 14), (Bytes{0, 0, 0, 0xC0}));      // min
    EXPECT_EQ(Bytes(d.begin() + 14, d.begin() + 18), (Bytes{0xFF, 0xFF, 0xFF, 0xDF}));  // max
    EXPECT_EQ(Bytes(d.begin() + 22, d.begin() + 26), (Bytes{0, 0, 0, 0x20}));      // length

    Bytes q = res::qword_memory(0x200000000ull, 0x2FFFFFFFFull);
    ASSERT_EQ(q.size(), 3u + 43);
    EXPECT_EQ(Bytes(q.begin(), q.begin() + 6), (Bytes{0x8A, 43, 0, 0, 0x0C, 0x01}));
    EXPECT_EQ(Bytes(q.begin() + 14, q.begin() + 22), (Bytes{0, 0, 0, 0, 2, 0, 0, 0}));          // min
    EXPECT_EQ(Bytes(q.begin() + 38, q.begin() + 46), (Bytes{0, 0, 0, 0, 1, 0, 0, 0}));          // length
}

TEST(AmlResources, SmallDescriptors) {
    EXPECT_EQ(res::io(0x3F8, 0x3F8, 1, 8), (Bytes{0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08}));
    EXPECT_EQ(res::irq_no_flags({4}), (Bytes{0x22, 0x10, 0x00}));
    EXPECT_EQ(res::irq_no_flags({3, 12}), (Bytes{0x22, 0x08, 0x10}));
    EXPECT_THROW(res::irq_no_flags({16}), Error);
    EXPECT_EQ(res::memory32_fixed(0xE0000000, 0x10000000),
              (Bytes{0x86, 9, 0, 0x01, 0, 0, 0, 0xE0, 0, 0, 0, 0x10}));
}

TEST(AmlResources, ExtendedInterrupt) {
    // Interrupt (ResourceConsumer, Level, ActiveLow, Shared) {16}
    EXPECT_EQ(res::extended_interrupt({.consumer = true, .edge = false, .active_low = true, .shared = true}, {16}),
              (Bytes{0x89, 6, 0, 0x0D, 1, 16, 0, 0, 0}));
    EXPECT_EQ(res::extended_interrupt({.consumer = true, .edge = true}, {5, 6})[3], 0x03);
    EXPECT_THROW(res::extended_interrupt({}, {}), Error);
}

TEST(AmlResources, TemplateEndsWithChecksummedEndTag) {
    Bytes io = res::io(0x2F8, 0x2F8, 1, 8);
    Bytes irq = res::irq_no_flags({3});
    Bytes t = resource_template({io, irq});
    // BufferOp, PkgLength, BufferSize (ByteConst), descriptors, end tag, checksum.
    size_t data_len = io.size() + irq.size() + 2;
    ASSERT_EQ(t.size(), 1 + 1 + 2 + data_len);
    EXPECT_EQ(t[0], 0x11);
    EXPECT_EQ(t[3], data_len);
    Bytes data(t.begin() + 4, t.end());
    EXPECT_EQ(data[data.size() - 2], 0x79);
    unsigned sum = std::accumulate(data.begin(), data.end(), 0u);
    EXPECT_EQ(sum % 256, 0u);
}

}  // namespace
}  // namespace khyve::aml
