#include "devices/uart_pio.h"

namespace khyve {

void UartPio::read(uint64_t offset, std::span<uint8_t> data) {
    for (size_t i = 0; i < data.size(); ++i) {
        uint64_t reg = offset + i;
        data[i] = reg < kSize ? uart_->read(static_cast<unsigned>(reg)) : 0xff;
    }
}

void UartPio::write(uint64_t offset, std::span<const uint8_t> data) {
    for (size_t i = 0; i < data.size(); ++i) {
        uint64_t reg = offset + i;
        if (reg < kSize) uart_->write(static_cast<unsigned>(reg), data[i]);
    }
}

}  // namespace khyve
