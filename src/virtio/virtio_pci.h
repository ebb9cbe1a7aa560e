// The virtio-pci modern transport (virtio 1.2, 4.1): a PCI function that
// wraps one VirtioDevice. Modern only: device ID 0x1040 + type, revision 1,
// subsystem 0x1AF4:0x1100.
//
// Everything lives in one 64-bit memory BAR (BAR 0/1, 32 KiB):
//   0x0000 common cfg      0x1000 ISR          0x2000 device cfg
//   0x3000 notify (4 bytes per queue: notify_off_multiplier 4)
//   0x4000 MSI-X table     0x5000 MSI-X PBA
// Capabilities: MSI-X (1 config vector + 1 per queue), common, notify, ISR,
// device (if config_size() > 0) and the PCI_CFG access window.
//
// Threads:
//  * vCPU threads: config space, BAR accesses (common cfg under a lock,
//    device cfg straight to the device). Status writes of 0 (reset) and
//    DRIVER_OK (activation) run the device's reset()/activate() there.
//  * one worker thread per active device (started at DRIVER_OK, joined at
//    reset): an epoll loop over the queues' eventfds and the fds the device
//    added; it calls VirtioDevice::queue_notify(). Queue notifications reach
//    the eventfds through KVM ioeventfds on the notify addresses
//    (re-registered when the guest moves the BAR); a notify write that still
//    traps is turned into the same eventfd write, so device work never runs
//    on a vCPU.
//  * after each worker callback, a broken queue sets DEVICE_NEEDS_RESET,
//    raises the config-change interrupt and stops the worker until reset.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/fd.h"
#include "pci/msix.h"
#include "pci/pci_device.h"
#include "platform/failure.h"
#include "virtio/queue.h"
#include "virtio/virtio_device.h"

namespace khyve {

class DeviceWorker;
class GuestMemory;
class InterruptController;
class IoEventRegistry;

class VirtioPci : public PciDevice {
public:
    static constexpr unsigned kBar = 0;
    static constexpr uint64_t kBarSize = 0x8000;
    static constexpr uint64_t kCommonCfg = 0x0000;
    static constexpr uint64_t kIsr = 0x1000;
    static constexpr uint64_t kDeviceCfg = 0x2000;
    static constexpr uint64_t kNotify = 0x3000;
    static constexpr uint64_t kMsixTable = 0x4000;
    static constexpr uint64_t kMsixPba = 0x5000;
    static constexpr uint32_t kNotifyMultiplier = 4;
    static constexpr uint16_t kNoVector = 0xffff;
    static constexpr unsigned kMaxQueues = 255;  // table fits 0x1000 with the config vector

    // mem, irq and ioevents must outlive this object; irq/ioevents may be
    // null (no MSI-X delivery / always trapped notifications). on_failure
    // hears what goes wrong on the device's worker thread (the machine stops);
    // without it the device sets DEVICE_NEEDS_RESET and logs to stderr.
    VirtioPci(std::shared_ptr<VirtioDevice> device, const GuestMemory& mem, InterruptController* irq,
              IoEventRegistry* ioevents, FailureSink on_failure = {});
    ~VirtioPci() override;

    VirtioDevice& device() { return *device_; }
    // What trace probes (virtq_notify, virtq_complete) and statistics call
    // this function; the device type ("virtio-blk") until the machine names
    // it ("virtio-blk@2:0"). Call before the guest runs.
    void set_name(std::string name);
    const std::string& name() const { return name_; }
    unsigned num_queues() const { return num_queues_; }
    // Cumulative over driver resets; readable from any thread.
    const QueueCounters& queue_counters(unsigned index) const { return queues_[index].counters(); }
    uint8_t device_status() const { return status_.load(); }
    // Feature bits the transport offers: the device's plus ring/transport bits.
    uint64_t offered_features() const;

    void bar_read(unsigned bar, uint64_t offset, std::span<uint8_t> data) override;
    void bar_write(unsigned bar, uint64_t offset, std::span<const uint8_t> data) override;

protected:
    void config_reading(unsigned offset, unsigned len) override;
    void config_written(unsigned offset, unsigned len) override;
    void bar_moved(unsigned bar, const BarRange& before, const BarRange& after) override;

private:
    class Interrupt : public VirtioInterrupt {
    public:
        explicit Interrupt(VirtioPci& t) : t_(t) {}
        void signal_used_queue(uint16_t index) override;
        void signal_config_changed() override;
        void signal_needs_reset() override;

    private:
        VirtioPci& t_;
    };

    static constexpr unsigned kCommonSize = 0x40;
    void common_image(uint8_t* img);  // kCommonSize bytes, mu_ held
    void common_apply(unsigned field, uint64_t value);
    void write_status(uint8_t v);
    bool activate_locked();
    void reset_locked();
    void stop_worker();
    void needs_reset();
    // false: nothing was signalled (MSI-X on, but no vector assigned).
    bool raise(uint16_t vector, uint8_t isr_bit);
    void kick(unsigned queue);
    void register_ioevents(uint64_t bar_base);
    void unregister_ioevents();
    void drain_eventfds();

    std::shared_ptr<VirtioDevice> device_;
    FailureSink on_failure_;
    std::string name_;
    const GuestMemory& mem_;
    IoEventRegistry* ioevents_;
    const unsigned num_queues_;
    Msix msix_;
    Interrupt interrupt_{*this};
    unsigned msix_cap_ = 0;
    unsigned pcicfg_cap_ = 0;

    // Transport state; vCPU threads only, under mu_.
    std::mutex mu_;
    uint32_t device_feature_select_ = 0;
    uint32_t driver_feature_select_ = 0;
    uint64_t driver_features_ = 0;
    uint16_t queue_select_ = 0;
    bool active_ = false;
    std::vector<Queue> queues_;
    std::vector<Fd> kick_fds_;
    std::unique_ptr<DeviceWorker> worker_;
    std::atomic<DeviceWorker*> live_worker_{nullptr};  // for signal_needs_reset()

    // Read by the worker too.
    std::atomic<uint8_t> status_{0};
    std::atomic<uint8_t> config_generation_{0};
    std::mutex irq_mu_;  // vectors and ISR
    uint16_t config_vector_ = kNoVector;
    std::vector<uint16_t> queue_vectors_;
    uint8_t isr_ = 0;

    std::mutex ioev_mu_;
    uint64_t ioev_base_ = 0;  // 0: not registered
    std::vector<bool> ioev_ok_;
};

}  // namespace khyve
