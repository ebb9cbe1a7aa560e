// virtio-rng ("virtio-rnd" in bhyve): one request queue whose writable
// buffers are filled from getrandom(2). The simplest device; it exercises
// the whole transport.
#pragma once

#include "platform/pci_emulation.h"
#include "virtio/virtio_device.h"

namespace khyve {

class VirtioRng : public VirtioDevice {
public:
    static constexpr uint16_t kQueueSize = 64;
    // At most this many bytes per request, so one greedy buffer cannot keep
    // the worker busy for long.
    static constexpr size_t kMaxPerRequest = 64 * 1024;

    uint32_t device_type() const override { return virtio::kTypeRng; }
    uint64_t features() const override { return 0; }
    unsigned num_queues() const override { return 1; }
    uint16_t queue_max_size(unsigned) const override { return kQueueSize; }
    uint32_t config_size() const override { return 0; }
    void read_config(uint32_t, std::span<uint8_t> data) override;

    bool activate(const VirtioActivation& activation) override;
    void queue_notify(unsigned index) override;
    void reset() override;

private:
    Queue* queue_ = nullptr;
    VirtioInterrupt* interrupt_ = nullptr;
};

// The -s virtio-rnd entry (src/platform/pci_emulation.h): no options.
extern const PciEmulation kVirtioRngEmulation;

}  // namespace khyve
