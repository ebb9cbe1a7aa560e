#include "common/le_bytes.h"

#include <gtest/gtest.h>

#include <array>
#include <stdexcept>
#include <vector>

namespace khyve {
namespace {

TEST(LeBytes, ReadsLittleEndianAtAnyOffset) {
    const std::vector<uint8_t> b = {0xAA, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    EXPECT_EQ(read_le<uint8_t>(b, 0), 0xAAu);
    EXPECT_EQ(read_le<uint16_t>(b, 1), 0x0201u);
    EXPECT_EQ(read_le<uint32_t>(b, 1), 0x04030201u);
    EXPECT_EQ(read_le<uint64_t>(b, 1), 0x0807060504030201ull);
    EXPECT_EQ(read_le_n(b, 2, 3), 0x040302u);
    EXPECT_EQ(read_le_n(b, 2, 0), 0u);
    EXPECT_EQ(read_le<int16_t>(std::vector<uint8_t>{0xFE, 0xFF}, 0), -2);
}

TEST(LeBytes, GetLeYieldsNulloptPastTheEnd) {
    const std::vector<uint8_t> b = {1, 2, 3, 4};
    EXPECT_EQ(get_le<uint32_t>(b, 0), 0x04030201u);
    EXPECT_EQ(get_le<uint16_t>(b, 2), 0x0403u);
    EXPECT_EQ(get_le<uint16_t>(b, 3), std::nullopt);
    EXPECT_EQ(get_le<uint8_t>(b, 4), std::nullopt);
    EXPECT_EQ(get_le<uint64_t>(b, 0), std::nullopt);
    EXPECT_EQ(get_le<uint8_t>(b, ~0ull), std::nullopt);  // no wrap-around
    EXPECT_EQ(get_le<uint8_t>({}, 0), std::nullopt);
}

TEST(LeBytes, WritesLittleEndianAndTruncatesToTheWidth) {
    std::array<uint8_t, 12> b{};
    put_le<uint32_t>(b, 1, 0x11223344u);
    put_le<uint16_t>(b, 5, 0xBEEF);
    put_le_n(b, 7, 0xFFCCBBAAull, 3);  // the high byte is dropped
    put_le<int8_t>(b, 10, -1);
    EXPECT_EQ(b, (std::array<uint8_t, 12>{0, 0x44, 0x33, 0x22, 0x11, 0xEF, 0xBE, 0xAA, 0xBB, 0xCC, 0xFF, 0}));

    std::vector<uint8_t> v = {9};
    append_le(v, 0x0102030405060708ull, 8);
    append_le(v, 0xABCD, 1);
    append_le(v, 0xABCD, 0);
    EXPECT_EQ(v, (std::vector<uint8_t>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0xCD}));
}

TEST(LeBytes, RoundTripsEveryWidth) {
    std::vector<uint8_t> b(16);
    for (size_t n = 1; n <= 8; ++n) {
        const uint64_t v = 0x8877665544332211ull >> (8 * (8 - n));
        put_le_n(b, 16 - n, v, n);
        EXPECT_EQ(read_le_n(b, 16 - n, n), v) << n;
    }
    put_le<uint64_t>(b, 3, 0xFEDCBA9876543210ull);
    EXPECT_EQ(read_le<uint64_t>(b, 3), 0xFEDCBA9876543210ull);
}

TEST(LeBytes, CheckedFormsThrowPastTheEnd) {
    std::vector<uint8_t> b(4);
    EXPECT_THROW(read_le<uint32_t>(b, 1), std::out_of_range);
    EXPECT_THROW(read_le<uint8_t>(b, ~0ull), std::out_of_range);
    EXPECT_THROW(put_le<uint16_t>(b, 3, 1), std::out_of_range);
    EXPECT_THROW(put_le_n(b, 0, 1, 9), std::out_of_range);  // wider than 8 bytes
    EXPECT_THROW(read_le_n(b, 0, 9), std::out_of_range);
    EXPECT_THROW(append_le(b, 1, 9), std::out_of_range);
    EXPECT_EQ(b, std::vector<uint8_t>(4));  // nothing was written
    EXPECT_NO_THROW(put_le<uint32_t>(b, 0, 1));
    EXPECT_NO_THROW(put_le_n(b, 4, 1, 0));  // an empty field at the end
}

TEST(LeBytes, Sum8WrapsModulo256) {
    EXPECT_EQ(sum8({}), 0u);
    EXPECT_EQ(sum8(std::vector<uint8_t>{0x80, 0x80, 0x05}), 0x05u);
    EXPECT_EQ(sum8(std::vector<uint8_t>{0xFF, 0x02}), 0x01u);
}

TEST(LeBytes, ChecksumMakesTheRegionSumToZero) {
    std::vector<uint8_t> b = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' ', 0, 0x12, 0xF0};
    EXPECT_EQ(checksum8(b), uint8_t(0x100 - sum8(b)));
    put_checksum8(b, 8);
    EXPECT_EQ(sum8(b), 0u);
    // A stale checksum byte is replaced, not added to.
    b[8] = 0x5A;
    put_checksum8(b, 8);
    EXPECT_EQ(sum8(b), 0u);
    // A region already summing to zero keeps a zero checksum.
    std::vector<uint8_t> z = {0x01, 0x00, 0xFF};
    put_checksum8(z, 1);
    EXPECT_EQ(z[1], 0u);
    // Only the region is summed: the bytes around it are left as they are.
    std::vector<uint8_t> outer = {0x77, 0x10, 0x00, 0x20, 0x77};
    put_checksum8(std::span(outer).subspan(1, 3), 1);
    EXPECT_EQ(outer, (std::vector<uint8_t>{0x77, 0x10, 0xD0, 0x20, 0x77}));
    EXPECT_THROW(put_checksum8(z, 3), std::out_of_range);
}

TEST(BigEndian, ReadsQcow2StyleFields) {
    const uint8_t b[] = {'Q', 'F', 'I', 0xfb, 0, 0, 0, 3, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    EXPECT_EQ(read_be<uint32_t>(b, 0), 0x514649fbu);
    EXPECT_EQ(read_be<uint32_t>(b, 4), 3u);
    EXPECT_EQ(read_be<uint64_t>(b, 8), 0x0102030405060708ull);
    EXPECT_EQ(read_be_n(b, 8, 3), 0x010203u);
    EXPECT_THROW(read_be<uint64_t>(b, 9), std::out_of_range);
}

}  // namespace
}  // namespace khyve
