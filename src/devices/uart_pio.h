// Puts a Uart16550 on the port-I/O bus: 8 ports, offset n is register n.
// Wider accesses are split into byte accesses of consecutive registers.
#pragma once

#include <memory>

#include "bus/bus.h"
#include "devices/uart16550.h"

namespace khyve {

class UartPio : public BusDevice {
public:
    static constexpr uint64_t kSize = 8;

    explicit UartPio(std::shared_ptr<Uart16550> uart) : uart_(std::move(uart)) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    std::shared_ptr<Uart16550> uart_;
};

}  // namespace khyve
