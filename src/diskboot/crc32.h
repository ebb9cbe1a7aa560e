// CRC-32 as used by GPT (IEEE 802.3, reflected polynomial 0xEDB88320, initial
// value and final xor ~0). Our own small table so no zlib link is needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace khyve::diskboot {

uint32_t crc32(std::span<const uint8_t> data);

}  // namespace khyve::diskboot
