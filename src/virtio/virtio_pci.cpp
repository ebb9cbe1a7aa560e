#include "virtio/virtio_pci.h"

#include "trace/probes.h"
#include "sandbox/seccomp.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <thread>

#include "common/error.h"
#include "common/le_bytes.h"
#include "virtio/device_worker.h"
#include "memory/guest_memory.h"
#include "platform/interrupts.h"

namespace khyve {

namespace {

// virtio_pci_cap cfg_type values (4.1.4).
constexpr uint8_t kCapCommon = 1;
constexpr uint8_t kCapNotify = 2;
constexpr uint8_t kCapIsr = 3;
constexpr uint8_t kCapDevice = 4;
constexpr uint8_t kCapPciCfg = 5;

// Common configuration field offsets (4.1.4.3).
constexpr unsigned kDeviceFeatureSelect = 0x00;
constexpr unsigned kDeviceFeature = 0x04;
constexpr unsigned kDriverFeatureSelect = 0x08;
constexpr unsigned kDriverFeature = 0x0c;
constexpr unsigned kConfigMsixVector = 0x10;
constexpr unsigned kNumQueues = 0x12;
constexpr unsigned kDeviceStatus = 0x14;
constexpr unsigned kConfigGeneration = 0x15;
constexpr unsigned kQueueSelect = 0x16;
constexpr unsigned kQueueSize = 0x18;
constexpr unsigned kQueueMsixVector = 0x1a;
constexpr unsigned kQueueEnable = 0x1c;
constexpr unsigned kQueueNotifyOff = 0x1e;
constexpr unsigned kQueueDesc = 0x20;
constexpr unsigned kQueueDriver = 0x28;
constexpr unsigned kQueueDevice = 0x30;

struct Field {
    unsigned off, size;
};
constexpr Field kFields[] = {
    {kDeviceFeatureSelect, 4}, {kDeviceFeature, 4}, {kDriverFeatureSelect, 4},
    {kDriverFeature, 4},       {kConfigMsixVector, 2}, {kNumQueues, 2},
    {kDeviceStatus, 1},        {kConfigGeneration, 1}, {kQueueSelect, 2},
    {kQueueSize, 2},           {kQueueMsixVector, 2},  {kQueueEnable, 2},
    {kQueueNotifyOff, 2},      {kQueueDesc, 8},        {kQueueDriver, 8},
    {kQueueDevice, 8},
};

// Offsets inside the PCI_CFG capability.
constexpr unsigned kPciCfgBar = 4;
constexpr unsigned kPciCfgOffset = 8;
constexpr unsigned kPciCfgLength = 12;
constexpr unsigned kPciCfgData = 16;

PciIds ids_for(const VirtioDevice& d) {
    PciIds ids;
    ids.vendor = 0x1af4;
    ids.device = static_cast<uint16_t>(0x1040 + d.device_type());
    ids.revision = 1;  // modern-only device
    ids.subsystem_vendor = 0x1af4;
    ids.subsystem_id = 0x1100;
    switch (d.device_type()) {
        case virtio::kTypeNet: ids.class_code = 0x02; break;                       // network
        case virtio::kTypeBlock: ids.class_code = 0x01; break;                     // storage
        case virtio::kTypeConsole: ids.class_code = 0x07; ids.subclass = 0x80; break;  // comm
        default: ids.class_code = 0xff; break;                                     // other
    }
    return ids;
}

std::vector<uint8_t> virtio_cap(uint8_t type, uint32_t offset, uint32_t length, size_t extra) {
    std::vector<uint8_t> c(16 + extra, 0);
    c[0] = pci::kCapIdVendor;
    c[2] = static_cast<uint8_t>(c.size());  // cap_len
    c[3] = type;
    c[4] = VirtioPci::kBar;
    put_le<uint32_t>(c, 8, offset);
    put_le<uint32_t>(c, 12, length);
    return c;
}

const char* type_name(uint32_t type) {
    switch (type) {
        case virtio::kTypeNet: return "virtio-net";
        case virtio::kTypeBlock: return "virtio-blk";
        case virtio::kTypeConsole: return "virtio-console";
        case virtio::kTypeRng: return "virtio-rnd";
        default: return "virtio";
    }
}

bool overlaps(uint64_t off, uint64_t len, uint64_t reg, uint64_t reg_len) {
    return off < reg + reg_len && reg < off + len;
}

}  // namespace

// ------------------------------------------------------------- transport ---

VirtioPci::VirtioPci(std::shared_ptr<VirtioDevice> device, const GuestMemory& mem,
                     InterruptController* irq, IoEventRegistry* ioevents, FailureSink on_failure)
    : PciDevice(ids_for(*device)),
      device_(std::move(device)),
      on_failure_(std::move(on_failure)),
      mem_(mem),
      ioevents_(ioevents),
      num_queues_(device_->num_queues()),
      msix_(num_queues_ + 1, irq) {
    if (num_queues_ == 0 || num_queues_ > kMaxQueues) throw Error("virtio: bad number of queues");
    for (unsigned i = 0; i < num_queues_; ++i) {
        const uint16_t max = device_->queue_max_size(i);
        if (max == 0 || (max & (max - 1)) || max > Queue::kMaxSize)
            throw Error("virtio: queue size must be a power of two up to 32768");
        queues_.emplace_back(max);
        Fd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        if (!fd.valid()) throw sys_error("eventfd");
        kick_fds_.push_back(std::move(fd));
    }
    queue_vectors_.assign(num_queues_, kNoVector);
    ioev_ok_.assign(num_queues_, false);
    set_name(type_name(device_->device_type()));

    add_bar(kBar, BarType::kMem64, kBarSize);
    set_interrupt_pin(1);

    const auto mc = msix_.capability(kBar, kMsixTable, kMsixPba);
    msix_cap_ = add_capability(mc);
    set_writable16(msix_cap_ + Msix::kControlOffset, Msix::kControlEnable | Msix::kControlMask);

    add_capability(virtio_cap(kCapCommon, kCommonCfg, 0x1000, 0));
    auto notify = virtio_cap(kCapNotify, kNotify, kNotifyMultiplier * num_queues_, 4);
    put_le<uint32_t>(notify, 16, kNotifyMultiplier);
    add_capability(notify);
    add_capability(virtio_cap(kCapIsr, kIsr, 0x1000, 0));
    if (device_->config_size())
        add_capability(virtio_cap(kCapDevice, kDeviceCfg, device_->config_size(), 0));
    // The window through config space into the BAR that the spec requires.
    pcicfg_cap_ = add_capability(virtio_cap(kCapPciCfg, 0, 0, 4));
    set_writable(pcicfg_cap_ + kPciCfgBar, std::array<uint8_t, 1>{0xff});
    set_writable32(pcicfg_cap_ + kPciCfgOffset, 0xffffffffu);
    set_writable32(pcicfg_cap_ + kPciCfgLength, 0xffffffffu);
    set_writable32(pcicfg_cap_ + kPciCfgData, 0xffffffffu);
}

VirtioPci::~VirtioPci() {
    {
        std::lock_guard lk(mu_);
        stop_worker();
        if (active_) device_->reset();
        active_ = false;
        worker_.reset();
    }
    std::lock_guard lk(ioev_mu_);
    unregister_ioevents();
}

void VirtioPci::set_name(std::string name) {
    name_ = std::move(name);
    for (unsigned i = 0; i < num_queues_; ++i) queues_[i].set_trace_name(name_.c_str(), static_cast<uint16_t>(i));
}

uint64_t VirtioPci::offered_features() const {
    return device_->features() | virtio::kFVersion1 | virtio::kFIndirectDesc | virtio::kFEventIdx;
}

// ---- interrupts ----

bool VirtioPci::raise(uint16_t vector, uint8_t isr_bit) {
    std::lock_guard lk(irq_mu_);
    if (msix_.enabled()) {
        if (vector == kNoVector) return false;
        msix_.notify(vector);
        return true;
    }
    isr_ |= isr_bit;
    set_intx(true);
    return true;
}

void VirtioPci::Interrupt::signal_used_queue(uint16_t index) {
    if (index >= t_.num_queues_) return;
    uint16_t v;
    {
        std::lock_guard lk(t_.irq_mu_);
        v = t_.queue_vectors_[index];
    }
    if (t_.raise(v, 1)) ++t_.queues_[index].counters().interrupts;
}

void VirtioPci::Interrupt::signal_config_changed() {
    ++t_.config_generation_;
    uint16_t v;
    {
        std::lock_guard lk(t_.irq_mu_);
        v = t_.config_vector_;
    }
    t_.raise(v, 2);
}

void VirtioPci::Interrupt::signal_needs_reset() { t_.needs_reset(); }

void VirtioPci::needs_reset() {
    const uint8_t old = status_.fetch_or(virtio::kStatusNeedsReset);
    if (DeviceWorker* w = live_worker_.load()) w->halt();
    if (old & virtio::kStatusNeedsReset) return;
    interrupt_.signal_config_changed();
}

// ---- status machine (mu_ held) ----

void VirtioPci::stop_worker() {
    if (worker_) worker_->stop();
}

void VirtioPci::drain_eventfds() {
    for (auto& fd : kick_fds_) {
        uint64_t v;
        [[maybe_unused]] auto r = ::read(fd.get(), &v, sizeof v);
    }
}

void VirtioPci::reset_locked() {
    stop_worker();
    if (active_) device_->reset();
    active_ = false;
    live_worker_ = nullptr;
    worker_.reset();
    for (auto& q : queues_) q.reset();
    drain_eventfds();
    device_feature_select_ = driver_feature_select_ = 0;
    driver_features_ = 0;
    queue_select_ = 0;
    {
        std::lock_guard lk(irq_mu_);
        config_vector_ = kNoVector;
        queue_vectors_.assign(num_queues_, kNoVector);
        isr_ = 0;
        set_intx(false);
    }
    status_ = 0;
}

bool VirtioPci::activate_locked() {
    const uint64_t features = driver_features_;
    for (auto& q : queues_)
        if (q.ready() && q.start(mem_, features) != QueueError::kNone) return false;

    auto after = [this] {
        for (const auto& q : queues_)
            if (q.broken()) {
                needs_reset();
                return true;
            }
        return (status_.load() & virtio::kStatusNeedsReset) != 0;
    };
    // The machine stops on a worker failure; without a machine (tests) the
    // device asks its driver for a reset and says why on stderr.
    auto failed = [this](const std::string& message) {
        if (on_failure_) {
            on_failure_(message);
        } else {
            std::fprintf(stderr, "bhyve: %s\n", message.c_str());
            needs_reset();
        }
    };
    auto w = std::make_unique<DeviceWorker>(name_, std::move(after), std::move(failed));
    for (unsigned i = 0; i < num_queues_; ++i) {
        if (!queues_[i].ready()) continue;
        const int fd = kick_fds_[i].get();
        w->add_fd(fd, [this, fd, i] {
            uint64_t v = 0;
            // The eventfd adds up the guest's kicks since the last wake-up.
            if (::read(fd, &v, sizeof v) == sizeof v) queues_[i].counters().notifications.add(v);
            KHYVE_PROBE_VIRTQ_NOTIFY(name_.c_str(), i);
            device_->queue_notify(i);
        });
    }
    VirtioActivation act;
    act.mem = &mem_;
    act.features = features;
    act.queues = queues_;
    act.interrupt = &interrupt_;
    act.worker = w.get();
    worker_ = std::move(w);
    live_worker_ = worker_.get();
    if (!device_->activate(act)) {
        live_worker_ = nullptr;
        worker_.reset();
        return false;
    }
    active_ = true;
    worker_->start();
    // Buffers made available before DRIVER_OK must not wait for a kick.
    for (unsigned i = 0; i < num_queues_; ++i)
        if (queues_[i].ready()) kick(i);
    return true;
}

void VirtioPci::write_status(uint8_t v) {
    if (v == 0) {
        reset_locked();
        return;
    }
    const uint8_t cur = status_.load();
    uint8_t next = static_cast<uint8_t>(v | (cur & virtio::kStatusNeedsReset));
    if ((v & virtio::kStatusFeaturesOk) && !(cur & virtio::kStatusFeaturesOk)) {
        // Refuse features we did not offer, and legacy (no VERSION_1)
        // drivers: FEATURES_OK then reads back clear.
        const bool ok = !(driver_features_ & ~offered_features()) &&
                        (driver_features_ & virtio::kFVersion1);
        if (!ok) next &= static_cast<uint8_t>(~virtio::kStatusFeaturesOk);
    }
    // Once accepted, FEATURES_OK cannot be withdrawn short of a reset.
    if (cur & virtio::kStatusFeaturesOk) next |= virtio::kStatusFeaturesOk;
    bool fail = false;
    if ((next & virtio::kStatusDriverOk) && !(cur & virtio::kStatusDriverOk) && !active_) {
        if (!(next & virtio::kStatusFeaturesOk) || (cur & virtio::kStatusNeedsReset) ||
            !activate_locked())
            fail = true;
    }
    // Keep a NEEDS_RESET the worker may have set meanwhile.
    uint8_t seen = status_.load();
    while (!status_.compare_exchange_weak(
        seen, static_cast<uint8_t>(next | (seen & virtio::kStatusNeedsReset)))) {
    }
    if (fail) needs_reset();
}

// ---- common configuration ----

void VirtioPci::common_image(uint8_t* img) {
    std::memset(img, 0, kCommonSize);
    auto put = [img](unsigned off, uint64_t v, unsigned size) { put_le_n({img, kCommonSize}, off, v, size); };
    put(kDeviceFeatureSelect, device_feature_select_, 4);
    put(kDeviceFeature,
        device_feature_select_ < 2 ? offered_features() >> (32 * device_feature_select_) : 0, 4);
    put(kDriverFeatureSelect, driver_feature_select_, 4);
    put(kDriverFeature,
        driver_feature_select_ < 2 ? driver_features_ >> (32 * driver_feature_select_) : 0, 4);
    {
        std::lock_guard lk(irq_mu_);
        put(kConfigMsixVector, config_vector_, 2);
        if (queue_select_ < num_queues_) put(kQueueMsixVector, queue_vectors_[queue_select_], 2);
        else put(kQueueMsixVector, kNoVector, 2);
    }
    put(kNumQueues, num_queues_, 2);
    put(kDeviceStatus, status_.load(), 1);
    put(kConfigGeneration, config_generation_.load(), 1);
    put(kQueueSelect, queue_select_, 2);
    if (queue_select_ < num_queues_) {
        const Queue& q = queues_[queue_select_];
        put(kQueueSize, q.size(), 2);
        put(kQueueEnable, q.ready() ? 1 : 0, 2);
        put(kQueueNotifyOff, queue_select_, 2);
        put(kQueueDesc, q.desc_addr(), 8);
        put(kQueueDriver, q.avail_addr(), 8);
        put(kQueueDevice, q.used_addr(), 8);
    }
}

void VirtioPci::common_apply(unsigned field, uint64_t value) {
    Queue* q = queue_select_ < num_queues_ ? &queues_[queue_select_] : nullptr;
    // Queue registers are frozen once the queue is enabled or the device runs.
    const bool q_writable = q && !q->ready() && !active_;
    switch (field) {
        case kDeviceFeatureSelect: device_feature_select_ = static_cast<uint32_t>(value); break;
        case kDriverFeatureSelect: driver_feature_select_ = static_cast<uint32_t>(value); break;
        case kDriverFeature:
            if (driver_feature_select_ < 2 && !(status_.load() & virtio::kStatusFeaturesOk)) {
                const unsigned shift = 32 * driver_feature_select_;
                driver_features_ = (driver_features_ & ~(0xffffffffull << shift)) |
                                   ((value & 0xffffffffull) << shift);
            }
            break;
        case kConfigMsixVector: {
            std::lock_guard lk(irq_mu_);
            config_vector_ = value < msix_.vectors() ? static_cast<uint16_t>(value) : kNoVector;
            break;
        }
        case kDeviceStatus: write_status(static_cast<uint8_t>(value)); break;
        case kQueueSelect: queue_select_ = static_cast<uint16_t>(value); break;
        case kQueueSize:
            if (q_writable) q->set_size(static_cast<uint16_t>(value));
            break;
        case kQueueMsixVector:
            if (q) {
                std::lock_guard lk(irq_mu_);
                queue_vectors_[queue_select_] =
                    value < msix_.vectors() ? static_cast<uint16_t>(value) : kNoVector;
            }
            break;
        case kQueueEnable:
            // Writing 0 is forbidden to the driver (4.1.4.3.2); ignore it.
            if (q_writable && value == 1) q->set_ready(true);
            break;
        case kQueueDesc:
            if (q_writable) q->set_desc_addr(value);
            break;
        case kQueueDriver:
            if (q_writable) q->set_avail_addr(value);
            break;
        case kQueueDevice:
            if (q_writable) q->set_used_addr(value);
            break;
        default: break;  // read-only
    }
}

// ---- BAR ----

void VirtioPci::kick(unsigned queue) {
    const uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(kick_fds_[queue].get(), &one, sizeof one);
}

void VirtioPci::bar_read(unsigned bar, uint64_t offset, std::span<uint8_t> data) {
    std::memset(data.data(), 0, data.size());
    if (bar != kBar) return;
    const uint64_t len = data.size();
    if (offset < kIsr) {
        if (offset + len > kCommonSize) return;
        uint8_t img[kCommonSize];
        std::lock_guard lk(mu_);
        common_image(img);
        std::memcpy(data.data(), img + offset, len);
    } else if (offset < kDeviceCfg) {
        if (offset != kIsr) return;
        std::lock_guard lk(irq_mu_);
        data[0] = isr_;
        isr_ = 0;  // reading acknowledges (4.1.4.5)
        set_intx(false);
    } else if (offset < kNotify) {
        const uint64_t o = offset - kDeviceCfg;
        if (o + len <= device_->config_size())
            device_->read_config(static_cast<uint32_t>(o), data);
    } else if (offset < kMsixTable) {
        // Notification area reads as zero.
    } else if (offset < kMsixPba) {
        const uint64_t o = offset - kMsixTable;
        if (o + len <= msix_.table_size()) msix_.table_read(o, data);
    } else {
        const uint64_t o = offset - kMsixPba;
        if (o + len <= msix_.pba_size()) msix_.pba_read(o, data);
    }
}

void VirtioPci::bar_write(unsigned bar, uint64_t offset, std::span<const uint8_t> data) {
    if (bar != kBar) return;
    const uint64_t len = data.size();
    if (offset < kIsr) {
        if (offset + len > kCommonSize) return;
        std::lock_guard lk(mu_);
        uint8_t img[kCommonSize];
        common_image(img);
        // Merge the written bytes into each field they touch, then apply
        // the whole field: 64-bit fields are usually written as two halves.
        for (const auto& f : kFields) {
            if (!overlaps(offset, len, f.off, f.size)) continue;
            for (uint64_t i = 0; i < len; ++i) {
                const uint64_t o = offset + i;
                if (o >= f.off && o < f.off + f.size) img[o] = data[i];
            }
            common_apply(f.off, read_le_n(img, f.off, f.size));
        }
    } else if (offset < kDeviceCfg) {
        // ISR is read-only.
    } else if (offset < kNotify) {
        const uint64_t o = offset - kDeviceCfg;
        if (o + len <= device_->config_size())
            device_->write_config(static_cast<uint32_t>(o), data);
    } else if (offset < kMsixTable) {
        const uint64_t q = (offset - kNotify) / kNotifyMultiplier;
        if (q < num_queues_) kick(static_cast<unsigned>(q));
    } else if (offset < kMsixPba) {
        const uint64_t o = offset - kMsixTable;
        if (o + len <= msix_.table_size()) msix_.table_write(o, data);
    }
}

// ---- config space hooks ----

void VirtioPci::config_reading(unsigned offset, unsigned len) {
    if (!overlaps(offset, len, pcicfg_cap_ + kPciCfgData, 4)) return;
    const unsigned bar = cfg8(pcicfg_cap_ + kPciCfgBar);
    const uint32_t off = cfg32(pcicfg_cap_ + kPciCfgOffset);
    const uint32_t n = cfg32(pcicfg_cap_ + kPciCfgLength);
    uint8_t buf[4] = {0, 0, 0, 0};
    if (bar == kBar && (n == 1 || n == 2 || n == 4) && off % n == 0 && off + n <= kBarSize)
        bar_read(kBar, off, {buf, n});
    set_cfg32(pcicfg_cap_ + kPciCfgData, read_le<uint32_t>(buf, 0));
}

void VirtioPci::config_written(unsigned offset, unsigned len) {
    if (overlaps(offset, len, msix_cap_ + Msix::kControlOffset, 2))
        msix_.control_written(cfg16(msix_cap_ + Msix::kControlOffset));
    if (overlaps(offset, len, pcicfg_cap_ + kPciCfgData, 4)) {
        const unsigned bar = cfg8(pcicfg_cap_ + kPciCfgBar);
        const uint32_t off = cfg32(pcicfg_cap_ + kPciCfgOffset);
        const uint32_t n = cfg32(pcicfg_cap_ + kPciCfgLength);
        if (bar == kBar && (n == 1 || n == 2 || n == 4) && off % n == 0 && off + n <= kBarSize) {
            uint8_t buf[4];
            put_le<uint32_t>(buf, 0, cfg32(pcicfg_cap_ + kPciCfgData));
            bar_write(kBar, off, {buf, n});
        }
    }
}

void VirtioPci::register_ioevents(uint64_t base) {
    if (!ioevents_) return;
    for (unsigned i = 0; i < num_queues_; ++i)
        ioev_ok_[i] = ioevents_->add_ioeventfd(base + kNotify + kNotifyMultiplier * i, 2, false,
                                               kick_fds_[i].get());
    ioev_base_ = base;
}

void VirtioPci::unregister_ioevents() {
    if (!ioevents_ || !ioev_base_) return;
    for (unsigned i = 0; i < num_queues_; ++i)
        if (ioev_ok_[i])
            ioevents_->remove_ioeventfd(ioev_base_ + kNotify + kNotifyMultiplier * i, 2, false,
                                        kick_fds_[i].get());
    ioev_ok_.assign(num_queues_, false);
    ioev_base_ = 0;
}

void VirtioPci::bar_moved(unsigned bar, const BarRange&, const BarRange& after) {
    if (bar != kBar) return;
    std::lock_guard lk(ioev_mu_);
    unregister_ioevents();
    if (after.size) register_ioevents(after.base);
}

}  // namespace khyve
