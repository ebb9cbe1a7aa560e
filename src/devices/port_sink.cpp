#include "devices/port_sink.h"

#include <algorithm>
#include <memory>

namespace khyve {

void PortSink::read(uint64_t, std::span<uint8_t> data) { std::fill(data.begin(), data.end(), 0); }

void PortSink::write(uint64_t, std::span<const uint8_t>) {}

void PortSink::attach_defaults(Bus& pio) {
    auto sink = std::make_shared<PortSink>();
    pio.insert(kPostPort, 1, sink, "post");
    pio.insert(kIoDelayPort, 1, sink, "io-delay");
}

}  // namespace khyve
