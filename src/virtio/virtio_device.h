// The contract between a virtio device model (blk, net, console, rng, ...) and
// its transport (VirtioPci). The device knows nothing about PCI: it describes
// its queues, features and config space, and does its work when activated.
//
// Threading (the transport guarantees this; devices rely on it):
//  * device_type(), features(), num_queues(), queue_max_size(), config_size()
//    are called at any time from any thread; they must be constant.
//  * read_config()/write_config() run on vCPU threads, possibly concurrently
//    with each other and with the worker thread: devices whose config space
//    changes at run time protect it themselves.
//  * activate() and reset() run on a vCPU thread (the one that wrote
//    DRIVER_OK, or 0 to device_status). While they run, the device's worker
//    thread is not running: activate() is called before it starts, reset()
//    after it has been joined. reset() is called only after an activate()
//    that returned true; it must stop any thread the device started itself
//    and drop every reference it took in activate(). The device object is
//    reused: activate() may follow again.
//  * queue_notify() and the callbacks given to VirtioWorker::add_fd() run on
//    the device's worker thread (one per device, owned by the transport),
//    never on a vCPU thread. The Queues are touched only there.
//  * VirtioInterrupt methods may be called from any thread.
//
// Broken guests: a Queue that meets a malformed ring becomes broken (sticky);
// after every worker callback the transport checks its queues and, if one is
// broken, sets DEVICE_NEEDS_RESET, raises a config-change interrupt and stops
// calling the device until the driver resets it. A device that detects another
// unrecoverable guest error calls VirtioInterrupt::signal_needs_reset().
#pragma once

#include <cstdint>
#include <functional>
#include <span>

namespace khyve {

class GuestMemory;
class Queue;

namespace virtio {

// Device IDs (virtio 1.2, section 5).
inline constexpr uint32_t kTypeNet = 1;
inline constexpr uint32_t kTypeBlock = 2;
inline constexpr uint32_t kTypeConsole = 3;
inline constexpr uint32_t kTypeRng = 4;

// Reserved (transport/ring) feature bits (section 6).
inline constexpr uint64_t kFIndirectDesc = 1ull << 28;
inline constexpr uint64_t kFEventIdx = 1ull << 29;
inline constexpr uint64_t kFVersion1 = 1ull << 32;
inline constexpr uint64_t kFAccessPlatform = 1ull << 33;

// Device status bits (section 2.1).
inline constexpr uint8_t kStatusAcknowledge = 0x01;
inline constexpr uint8_t kStatusDriver = 0x02;
inline constexpr uint8_t kStatusDriverOk = 0x04;
inline constexpr uint8_t kStatusFeaturesOk = 0x08;
inline constexpr uint8_t kStatusNeedsReset = 0x40;
inline constexpr uint8_t kStatusFailed = 0x80;

}  // namespace virtio

// How a device notifies its driver. Implemented by the transport.
class VirtioInterrupt {
public:
    virtual ~VirtioInterrupt() = default;
    // Used-buffer notification for queue `index`. Call it when
    // Queue::flush_used() (or needs_notification()) says so.
    virtual void signal_used_queue(uint16_t index) = 0;
    // The device-specific config space changed (bumps config_generation).
    virtual void signal_config_changed() = 0;
    // Unrecoverable guest error: sets DEVICE_NEEDS_RESET, raises a config
    // change interrupt and stops the device's queues until reset.
    virtual void signal_needs_reset() = 0;
};

// The device's worker thread. Devices with event sources of their own (a tap
// fd, console input, an io_uring completion eventfd) register them here so
// that all their work runs on one thread. Registrations end at reset.
class VirtioWorker {
public:
    virtual ~VirtioWorker() = default;
    // on_ready runs on the worker thread whenever fd is readable
    // (level-triggered: drain or the callback runs again). Call from
    // activate() or from the worker thread itself.
    virtual void add_fd(int fd, std::function<void()> on_ready) = 0;
    virtual void remove_fd(int fd) = 0;
};

// Everything a device needs to run; valid from activate() until reset().
struct VirtioActivation {
    const GuestMemory* mem = nullptr;
    uint64_t features = 0;           // negotiated: offered & accepted by the driver
    std::span<Queue> queues;         // num_queues() entries; use only those ready()
    VirtioInterrupt* interrupt = nullptr;
    VirtioWorker* worker = nullptr;
};

class VirtioDevice {
public:
    virtual ~VirtioDevice() = default;

    virtual uint32_t device_type() const = 0;
    // Device-specific feature bits offered. The transport adds VERSION_1,
    // INDIRECT_DESC and EVENT_IDX (Queue implements both) itself.
    virtual uint64_t features() const = 0;
    virtual unsigned num_queues() const = 0;
    // A power of two, at most 32768.
    virtual uint16_t queue_max_size(unsigned index) const = 0;

    // Device-specific config space. The transport only passes accesses that
    // lie wholly inside [0, config_size()).
    virtual uint32_t config_size() const = 0;
    virtual void read_config(uint32_t offset, std::span<uint8_t> data) = 0;
    virtual void write_config(uint32_t offset, std::span<const uint8_t> data) {
        (void)offset;
        (void)data;  // read-only by default
    }

    // DRIVER_OK was written. false: the device cannot run with what the
    // driver set up (the transport then sets DEVICE_NEEDS_RESET).
    virtual bool activate(const VirtioActivation& activation) = 0;
    // The driver notified queue `index` (worker thread).
    virtual void queue_notify(unsigned index) = 0;
    // Back to the initial state; see the threading notes above.
    virtual void reset() = 0;
};

}  // namespace khyve
