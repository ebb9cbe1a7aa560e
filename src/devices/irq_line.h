// An interrupt output of a device, as a plain callback. The machine maps it to
// KVM_IRQ_LINE on a GSI; tests record it. Devices call it with the new level of
// their output; a repeated level is harmless.
#pragma once

#include <functional>

namespace khyve {

using IrqLine = std::function<void(bool level)>;

}  // namespace khyve
