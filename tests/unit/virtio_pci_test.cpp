#include "virtio/virtio_pci.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "bus/bus.h"
#include "memory/guest_memory.h"
#include "pci/pci_bus.h"
#include "platform/interrupts.h"
#include "virtio/virtio_rng.h"
#include "test_fakes.h"

namespace khyve {
namespace {

using namespace std::chrono_literals;

// ---- fakes ----

using test::FakeIrq;

struct FakeIoEvents : IoEventRegistry {
    bool accept = true;
    std::map<uint64_t, int> regs;  // addr -> fd
    int removed = 0;
    bool add_ioeventfd(uint64_t addr, unsigned len, bool pio, int fd) override {
        EXPECT_EQ(len, 2u);
        EXPECT_FALSE(pio);
        if (!accept) return false;
        regs[addr] = fd;
        return true;
    }
    void remove_ioeventfd(uint64_t addr, unsigned, bool, int fd) override {
        auto it = regs.find(addr);
        ASSERT_NE(it, regs.end());
        EXPECT_EQ(it->second, fd);
        regs.erase(it);
        ++removed;
    }
};

// Two queues, one device feature bit, 8 bytes of config.
struct FakeDevice : VirtioDevice {
    std::atomic<int> notifies{0};
    std::atomic<int> activations{0}, resets{0};
    uint64_t negotiated = 0;
    uint8_t cfg[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    std::span<Queue> queues;
    VirtioInterrupt* irq = nullptr;
    uint32_t device_type() const override { return virtio::kTypeBlock; }
    uint64_t features() const override { return 1ull << 5; }
    unsigned num_queues() const override { return 2; }
    uint16_t queue_max_size(unsigned i) const override { return i == 0 ? 16 : 8; }
    uint32_t config_size() const override { return 8; }
    void read_config(uint32_t off, std::span<uint8_t> d) override {
        std::memcpy(d.data(), cfg + off, d.size());
    }
    void write_config(uint32_t off, std::span<const uint8_t> d) override {
        std::memcpy(cfg + off, d.data(), d.size());
    }
    bool activate(const VirtioActivation& a) override {
        negotiated = a.features;
        queues = a.queues;
        irq = a.interrupt;
        ++activations;
        return true;
    }
    void queue_notify(unsigned i) override {
        ++notifies;
        while (auto c = queues[i].pop()) queues[i].add_used(*c, 0);
        if (queues[i].flush_used()) irq->signal_used_queue(static_cast<uint16_t>(i));
    }
    void reset() override { ++resets; }
};

// ---- a guest driver, poking the transport through the machine's buses ----

struct Machine {
    std::vector<uint8_t> ram = std::vector<uint8_t>(1 << 20);
    GuestMemory mem;
    FakeIrq irq;
    FakeIoEvents ioev;
    std::shared_ptr<PciBus> pci;
    std::shared_ptr<VirtioPci> dev;
    Bus mmio;
    static constexpr unsigned kSlot = 5;
    uint64_t bar = 0;

    explicit Machine(std::shared_ptr<VirtioDevice> d, bool ioevents = false) {
        mem.add_region(0, ram.size(), ram.data());
        PciWindows w;
        pci = std::make_shared<PciBus>(w, &irq);
        dev = std::make_shared<VirtioPci>(std::move(d), mem, &irq, ioevents ? &ioev : nullptr);
        pci->add(kSlot, 0, dev);
        pci->assign_resources();
        mmio.insert(w.mem32_base, w.mem32_end - w.mem32_base, pci->mem32_window(), "pci-mem32");
        bar = dev->bar_address(VirtioPci::kBar);
    }

    uint32_t cfg_rd(unsigned off, unsigned size = 4) {
        uint8_t b[4] = {};
        pci->config_read(0, kSlot, 0, off, {b, size});
        uint32_t v = 0;
        std::memcpy(&v, b, size);
        return v;
    }
    void cfg_wr(unsigned off, uint32_t v, unsigned size = 4) {
        uint8_t b[4];
        std::memcpy(b, &v, 4);
        pci->config_write(0, kSlot, 0, off, {b, size});
    }
    uint64_t rd(uint64_t off, unsigned size) {
        uint8_t b[8] = {};
        mmio.read(bar + off, {b, size});
        uint64_t v = 0;
        std::memcpy(&v, b, size);
        return v;
    }
    void wr(uint64_t off, uint64_t v, unsigned size) {
        uint8_t b[8];
        std::memcpy(b, &v, 8);
        mmio.write(bar + off, {b, size});
    }
    // Offset of the first vendor capability of cfg_type, or 0.
    unsigned find_cap(uint8_t id, int cfg_type = -1) {
        for (unsigned p = cfg_rd(pci::kCapPtr, 1); p; p = cfg_rd(p + 1, 1)) {
            if (cfg_rd(p, 1) != id) continue;
            if (cfg_type < 0 || cfg_rd(p + 3, 1) == static_cast<unsigned>(cfg_type)) return p;
        }
        return 0;
    }
    uint8_t status() { return static_cast<uint8_t>(rd(0x14, 1)); }
    void set_status(uint8_t s) { wr(0x14, s, 1); }
    uint64_t device_features() {
        wr(0x00, 0, 4);
        uint64_t lo = rd(0x04, 4);
        wr(0x00, 1, 4);
        return lo | (rd(0x04, 4) << 32);
    }
    void driver_features(uint64_t f) {
        wr(0x08, 0, 4);
        wr(0x0c, f & 0xffffffff, 4);
        wr(0x08, 1, 4);
        wr(0x0c, f >> 32, 4);
    }
    bool negotiate(uint64_t f) {
        set_status(virtio::kStatusAcknowledge | virtio::kStatusDriver);
        driver_features(f);
        set_status(virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
        return status() & virtio::kStatusFeaturesOk;
    }
    // Queue q with rings at base, base+0x100*..., size `size`.
    void setup_queue(uint16_t q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used,
                     uint16_t vector) {
        wr(0x16, q, 2);
        wr(0x18, size, 2);
        wr(0x1a, vector, 2);
        wr(0x20, desc, 8);
        wr(0x28, avail & 0xffffffff, 4);  // 64-bit fields as two halves
        wr(0x2c, avail >> 32, 4);
        wr(0x30, used, 8);
        wr(0x1c, 1, 2);
    }
    void enable_msix() {
        const unsigned cap = find_cap(pci::kCapIdMsix);
        ASSERT_NE(cap, 0u);
        const unsigned n = (cfg_rd(cap + 2, 2) & 0x7ff) + 1;
        for (unsigned v = 0; v < n; ++v) {
            wr(VirtioPci::kMsixTable + 16 * v, 0xfee00000, 8);
            wr(VirtioPci::kMsixTable + 16 * v + 8, 0x30 + v, 4);
            wr(VirtioPci::kMsixTable + 16 * v + 12, 0, 4);
        }
        cfg_wr(cap + 2, Msix::kControlEnable, 2);
    }
    void driver_ok() {
        set_status(virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk |
                   virtio::kStatusDriverOk);
    }
    void notify(uint16_t q) { wr(VirtioPci::kNotify + 4 * q, q, 2); }

    template <class T>
    void put(uint64_t gpa, T v) { std::memcpy(&ram[gpa], &v, sizeof v); }
    template <class T>
    T get(uint64_t gpa) {
        return std::atomic_ref<T>(*reinterpret_cast<T*>(&ram[gpa])).load();
    }
    void desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
              uint16_t next = 0) {
        put(table + 16 * i, addr);
        put(table + 16 * i + 8, len);
        put<uint16_t>(table + 16 * i + 12, flags);
        put<uint16_t>(table + 16 * i + 14, next);
    }
    void push(uint64_t avail, uint16_t size, uint16_t head) {
        uint16_t idx = get<uint16_t>(avail + 2);
        put<uint16_t>(avail + 4 + 2 * (idx % size), head);
        std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(&ram[avail + 2])).store(idx + 1);
    }
};

template <class F>
bool wait_for(F f) {
    for (int i = 0; i < 2000; ++i) {
        if (f()) return true;
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

constexpr uint64_t kModern = virtio::kFVersion1;
constexpr uint16_t kWrite = 2, kNext = 1;

TEST(VirtioPci, IdsAndCapabilities) {
    Machine m(std::make_shared<VirtioRng>());
    EXPECT_EQ(m.cfg_rd(0), 0x10441af4u);  // 0x1040 + 4
    EXPECT_EQ(m.cfg_rd(pci::kRevision, 1), 1u);
    EXPECT_EQ(m.cfg_rd(pci::kSubsystemVendor, 2), 0x1af4u);
    EXPECT_EQ(m.cfg_rd(pci::kInterruptPin, 1), 1u);
    EXPECT_EQ(m.cfg_rd(pci::kBar0) & 0x7, 0x4u);  // 64-bit memory BAR
    EXPECT_GE(m.bar, layout::kPciMmio32Base);

    for (int t : {1, 2, 3, 5}) EXPECT_NE(m.find_cap(pci::kCapIdVendor, t), 0u) << t;
    EXPECT_EQ(m.find_cap(pci::kCapIdVendor, 4), 0u);  // rng has no device config
    const unsigned notify = m.find_cap(pci::kCapIdVendor, 2);
    EXPECT_EQ(m.cfg_rd(notify + 2, 1), 20u);  // cap_len
    EXPECT_EQ(m.cfg_rd(notify + 4, 1), 0u);   // BAR 0
    EXPECT_EQ(m.cfg_rd(notify + 8), VirtioPci::kNotify);
    EXPECT_EQ(m.cfg_rd(notify + 16), 4u);  // notify_off_multiplier
    const unsigned msix = m.find_cap(pci::kCapIdMsix);
    ASSERT_NE(msix, 0u);
    EXPECT_EQ(m.cfg_rd(msix + 2, 2) & 0x7ff, 1u);  // 2 vectors
    EXPECT_EQ(m.cfg_rd(msix + 4), VirtioPci::kMsixTable);
    EXPECT_EQ(m.rd(0x12, 2), 1u);  // num_queues
    EXPECT_EQ(m.rd(0x1e, 2), 0u);  // queue_notify_off
}

TEST(VirtioPci, FeatureNegotiation) {
    auto fd = std::make_shared<FakeDevice>();
    Machine m(fd);
    const uint64_t offered = m.device_features();
    EXPECT_TRUE(offered & (1ull << 5));
    EXPECT_TRUE(offered & virtio::kFVersion1);
    EXPECT_TRUE(offered & virtio::kFEventIdx);
    EXPECT_TRUE(offered & virtio::kFIndirectDesc);
    m.wr(0x00, 2, 4);
    EXPECT_EQ(m.rd(0x04, 4), 0u);  // no third word

    EXPECT_FALSE(m.negotiate(kModern | (1ull << 40)));  // not offered
    m.set_status(0);
    EXPECT_FALSE(m.negotiate(1ull << 5));  // legacy driver: no VERSION_1
    m.set_status(0);
    EXPECT_EQ(m.status(), 0u);
    EXPECT_TRUE(m.negotiate(kModern | (1ull << 5)));
    // Frozen after FEATURES_OK.
    m.driver_features(kModern | virtio::kFEventIdx);
    m.wr(0x08, 0, 4);
    EXPECT_EQ(m.rd(0x0c, 4), 1u << 5);

    // DRIVER_OK: the device sees exactly the negotiated set.
    m.setup_queue(0, 16, 0x1000, 0x2000, 0x3000, 0);
    m.driver_ok();
    EXPECT_EQ(fd->activations, 1);
    EXPECT_EQ(fd->negotiated, kModern | (1ull << 5));
    EXPECT_EQ(m.status() & virtio::kStatusNeedsReset, 0);
    m.set_status(0);
    EXPECT_EQ(fd->resets, 1);
    EXPECT_EQ(m.status(), 0u);
}

TEST(VirtioPci, DriverOkWithoutFeaturesOkNeedsReset) {
    auto fd = std::make_shared<FakeDevice>();
    Machine m(fd);
    m.set_status(virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusDriverOk);
    EXPECT_TRUE(m.status() & virtio::kStatusNeedsReset);
    EXPECT_EQ(fd->activations, 0);
}

TEST(VirtioPci, CommonConfigQueueRegisters) {
    auto fd = std::make_shared<FakeDevice>();
    Machine m(fd);
    m.wr(0x16, 1, 2);
    EXPECT_EQ(m.rd(0x18, 2), 8u);  // max size of queue 1
    EXPECT_EQ(m.rd(0x1e, 2), 1u);
    EXPECT_EQ(m.rd(0x1a, 2), VirtioPci::kNoVector);
    m.wr(0x1a, 2, 2);
    EXPECT_EQ(m.rd(0x1a, 2), 2u);
    m.wr(0x1a, 3, 2);  // only 3 vectors (config + 2 queues)
    EXPECT_EQ(m.rd(0x1a, 2), VirtioPci::kNoVector);
    m.wr(0x10, 7, 2);
    EXPECT_EQ(m.rd(0x10, 2), VirtioPci::kNoVector);
    m.wr(0x20, 0x123456789000ull, 8);
    EXPECT_EQ(m.rd(0x20, 8), 0x123456789000ull);
    m.wr(0x1c, 1, 2);
    EXPECT_EQ(m.rd(0x1c, 2), 1u);
    m.wr(0x20, 0x5000, 8);  // frozen once enabled
    EXPECT_EQ(m.rd(0x20, 8), 0x123456789000ull);
    m.wr(0x16, 2, 2);  // no such queue
    EXPECT_EQ(m.rd(0x18, 2), 0u);
    m.wr(0x18, 4, 2);
    EXPECT_EQ(m.rd(0x18, 2), 0u);
    // Device config region.
    EXPECT_EQ(m.rd(VirtioPci::kDeviceCfg + 4, 4), 0x08070605u);
    m.wr(VirtioPci::kDeviceCfg + 1, 0xee, 1);
    EXPECT_EQ(fd->cfg[1], 0xee);
    EXPECT_EQ(m.rd(VirtioPci::kDeviceCfg + 6, 4), 0u);  // crosses the end: not passed on
}

TEST(VirtioPci, PciCfgAccessWindow) {
    auto fd = std::make_shared<FakeDevice>();
    Machine m(fd);
    const unsigned cap = m.find_cap(pci::kCapIdVendor, 5);
    ASSERT_NE(cap, 0u);
    m.cfg_wr(cap + 4, 0, 1);
    m.cfg_wr(cap + 8, 0x12);  // num_queues
    m.cfg_wr(cap + 12, 2);
    EXPECT_EQ(m.cfg_rd(cap + 16, 2), 2u);
    m.cfg_wr(cap + 8, 0x16);  // queue_select
    m.cfg_wr(cap + 16, 1, 4);
    EXPECT_EQ(m.rd(0x16, 2), 1u);
}

TEST(VirtioPci, RngEndToEndMsix) {
    Machine m(std::make_shared<VirtioRng>());
    m.enable_msix();
    ASSERT_TRUE(m.negotiate(kModern));
    m.wr(0x10, 0, 2);
    m.setup_queue(0, 8, 0x1000, 0x2000, 0x3000, 1);
    EXPECT_EQ(m.rd(0x1a, 2), 1u);
    m.desc(0x1000, 0, 0x10000, 32, kWrite, 0);
    m.desc(0x1000, 1, 0x10020, 32, kWrite, 0);
    m.desc(0x1000, 0, 0x10000, 32, kWrite | kNext, 1);
    m.push(0x2000, 8, 0);
    m.driver_ok();
    EXPECT_EQ(m.status() & virtio::kStatusNeedsReset, 0);
    // Buffers made available before DRIVER_OK are served without a kick.
    ASSERT_TRUE(wait_for([&] { return m.get<uint16_t>(0x3002) == 1; }));
    EXPECT_EQ(m.get<uint32_t>(0x3004), 0u);
    EXPECT_EQ(m.get<uint32_t>(0x3008), 64u);
    bool nonzero = false;
    for (int i = 0; i < 64; ++i) nonzero |= m.ram[0x10000 + i] != 0;
    EXPECT_TRUE(nonzero);
    ASSERT_TRUE(wait_for([&] { return m.irq.routes[1]->triggers.load() >= 1; }));
    EXPECT_EQ(m.irq.routes[1]->data, 0x31u);
    EXPECT_EQ(m.irq.routes[0]->triggers, 0);

    // A trapped notify (no ioeventfd) works the same.
    m.desc(0x1000, 2, 0x10100, 16, kWrite);
    m.push(0x2000, 8, 2);
    m.notify(0);
    ASSERT_TRUE(wait_for([&] { return m.get<uint16_t>(0x3002) == 2; }));
    EXPECT_EQ(m.get<uint32_t>(0x3004 + 8), 2u);
    EXPECT_EQ(m.get<uint32_t>(0x3008 + 8), 16u);
}

TEST(VirtioPci, CountsNotificationsInterruptsAndUsedBuffers) {
    Machine m(std::make_shared<VirtioRng>());
    EXPECT_EQ(m.dev->name(), "virtio-rnd");
    m.dev->set_name("virtio-rnd@5:0");
    EXPECT_EQ(m.dev->name(), "virtio-rnd@5:0");
    ASSERT_EQ(m.dev->num_queues(), 1u);
    m.enable_msix();
    ASSERT_TRUE(m.negotiate(kModern));
    m.setup_queue(0, 8, 0x1000, 0x2000, 0x3000, 1);
    m.desc(0x1000, 0, 0x10000, 32, kWrite);
    m.push(0x2000, 8, 0);
    m.driver_ok();  // the transport kicks the queue once itself
    const QueueCounters& c = m.dev->queue_counters(0);
    ASSERT_TRUE(wait_for([&] { return c.interrupts.get() == 1; }));
    EXPECT_EQ(c.used.get(), 1u);
    EXPECT_EQ(c.notifications.get(), 1u);
    m.desc(0x1000, 1, 0x10100, 16, kWrite);
    m.push(0x2000, 8, 1);
    m.notify(0);
    ASSERT_TRUE(wait_for([&] { return c.interrupts.get() == 2; }));
    EXPECT_EQ(c.used.get(), 2u);
    EXPECT_EQ(c.notifications.get(), 2u);
    // A reset does not clear them: they count over the device's life.
    m.set_status(0);
    EXPECT_EQ(m.dev->queue_counters(0).used.get(), 2u);
}

TEST(VirtioPci, RngEndToEndIntxThroughIoeventfd) {
    Machine m(std::make_shared<VirtioRng>(), true);
    const uint64_t notify = m.bar + VirtioPci::kNotify;
    ASSERT_EQ(m.ioev.regs.count(notify), 1u);
    const int kick_fd = m.ioev.regs[notify];
    ASSERT_TRUE(m.negotiate(kModern));
    m.setup_queue(0, 8, 0x1000, 0x2000, 0x3000, VirtioPci::kNoVector);
    m.driver_ok();
    m.desc(0x1000, 0, 0x10000, 48, kWrite);
    m.push(0x2000, 8, 0);
    const uint64_t one = 1;  // what KVM does on a matching guest write
    ASSERT_EQ(::write(kick_fd, &one, 8), 8);
    ASSERT_TRUE(wait_for([&] { return m.get<uint16_t>(0x3002) == 1; }));
    const unsigned gsi = m.cfg_rd(pci::kInterruptLine, 1);
    EXPECT_EQ(gsi, 16u + (Machine::kSlot % 8));
    ASSERT_TRUE(wait_for([&] { return m.irq.line(gsi); }));
    EXPECT_EQ(m.rd(VirtioPci::kIsr, 1), 1u);
    EXPECT_FALSE(m.irq.line(gsi));
    EXPECT_EQ(m.rd(VirtioPci::kIsr, 1), 0u);  // read cleared it
}

TEST(VirtioPci, IoeventfdFollowsTheBar) {
    auto fd = std::make_shared<FakeDevice>();
    Machine m(fd, true);
    ASSERT_EQ(m.ioev.regs.size(), 2u);
    EXPECT_EQ(m.ioev.regs.count(m.bar + VirtioPci::kNotify + 4), 1u);
    // Guest moves the BAR: low dword then high dword.
    const uint64_t nb = 0xd0000000;
    m.cfg_wr(pci::kBar0, static_cast<uint32_t>(nb));
    m.cfg_wr(pci::kBar0 + 4, 0);
    EXPECT_EQ(m.ioev.regs.count(nb + VirtioPci::kNotify), 1u);
    EXPECT_EQ(m.ioev.regs.count(nb + VirtioPci::kNotify + 4), 1u);
    EXPECT_EQ(m.ioev.regs.count(m.bar + VirtioPci::kNotify), 0u);
    m.bar = nb;
    EXPECT_EQ(m.rd(0x12, 2), 2u);  // dispatch follows too
    m.cfg_wr(pci::kCommand, 0, 2);  // decode off: nothing registered
    EXPECT_TRUE(m.ioev.regs.empty());
}

TEST(VirtioPci, IoeventfdRefusedFallsBackToTrap) {
    auto fd = std::make_shared<FakeDevice>();
    Machine m(fd, true);
    m.ioev.accept = false;
    m.cfg_wr(pci::kBar0, 0xd0000000);
    m.bar = 0xd0000000;
    EXPECT_TRUE(m.ioev.regs.empty());
    ASSERT_TRUE(m.negotiate(kModern));
    m.setup_queue(1, 8, 0x1000, 0x2000, 0x3000, VirtioPci::kNoVector);
    m.driver_ok();
    ASSERT_TRUE(wait_for([&] { return fd->notifies.load() >= 1; }));  // the initial kick
    const int before = fd->notifies;
    m.notify(1);
    ASSERT_TRUE(wait_for([&] { return fd->notifies.load() > before; }));
}

// A malformed ring seen by the worker: NEEDS_RESET, config interrupt, queue
// stopped; the driver's reset brings the device back.
void expect_needs_reset_after(const std::function<void(Machine&)>& break_ring) {
    auto fd = std::make_shared<FakeDevice>();
    Machine m(fd);
    m.enable_msix();
    ASSERT_TRUE(m.negotiate(kModern | virtio::kFIndirectDesc));
    m.wr(0x10, 0, 2);  // config vector 0
    m.setup_queue(0, 16, 0x1000, 0x2000, 0x3000, 1);
    m.driver_ok();
    ASSERT_EQ(m.status() & virtio::kStatusNeedsReset, 0);
    const uint8_t gen = static_cast<uint8_t>(m.rd(0x15, 1));
    break_ring(m);
    m.notify(0);
    ASSERT_TRUE(wait_for([&] { return m.status() & virtio::kStatusNeedsReset; }));
    ASSERT_TRUE(wait_for([&] { return m.irq.routes[0]->triggers.load() == 1; }));
    EXPECT_NE(m.rd(0x15, 1), gen);  // config_generation moved
    EXPECT_EQ(m.get<uint16_t>(0x3002), 0);

    // Stopped: further kicks do nothing.
    const int n = fd->notifies;
    m.notify(0);
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(fd->notifies, n);

    // Reset and a clean ring work again.
    m.set_status(0);
    EXPECT_EQ(m.status(), 0u);
    EXPECT_EQ(fd->resets, 1);
    std::memset(&m.ram[0x1000], 0, 0x3000);
    m.enable_msix();
    ASSERT_TRUE(m.negotiate(kModern));
    m.setup_queue(0, 16, 0x1000, 0x2000, 0x3000, 1);
    m.driver_ok();
    m.desc(0x1000, 0, 0x10000, 8, kWrite);
    m.push(0x2000, 16, 0);
    m.notify(0);
    ASSERT_TRUE(wait_for([&] { return m.get<uint16_t>(0x3002) == 1; }));
    EXPECT_EQ(m.status() & virtio::kStatusNeedsReset, 0);
}

TEST(VirtioPci, NeedsResetOnDescriptorLoop) {
    expect_needs_reset_after([](Machine& m) {
        m.desc(0x1000, 0, 0x10000, 8, kNext, 1);
        m.desc(0x1000, 1, 0x10000, 8, kNext, 0);
        m.push(0x2000, 16, 0);
    });
}

TEST(VirtioPci, NeedsResetOnNestedIndirect) {
    expect_needs_reset_after([](Machine& m) {
        m.desc(0x5000, 0, 0x5100, 16, 4);
        m.desc(0x1000, 0, 0x5000, 16, 4);
        m.push(0x2000, 16, 0);
    });
}

TEST(VirtioPci, NeedsResetOnBufferOutsideRam) {
    expect_needs_reset_after([](Machine& m) {
        m.desc(0x1000, 0, 0xffff0, 0x100, kWrite);
        m.push(0x2000, 16, 0);
    });
}

TEST(VirtioPci, NeedsResetOnAvailJump) {
    expect_needs_reset_after([](Machine& m) { m.put<uint16_t>(0x2002, 100); });
}

TEST(VirtioPci, NeedsResetOnBadRingAddressAtDriverOk) {
    auto fd = std::make_shared<FakeDevice>();
    Machine m(fd);
    ASSERT_TRUE(m.negotiate(kModern));
    m.setup_queue(0, 16, 0x1004, 0x2000, 0x3000, VirtioPci::kNoVector);  // misaligned
    m.driver_ok();
    EXPECT_TRUE(m.status() & virtio::kStatusNeedsReset);
    EXPECT_EQ(fd->activations, 0);
    // INTx mode: the config change shows in ISR bit 1.
    EXPECT_EQ(m.rd(VirtioPci::kIsr, 1), 2u);
    m.set_status(0);
    EXPECT_EQ(m.status(), 0u);
    EXPECT_EQ(fd->resets, 0);  // never activated, so not reset

    ASSERT_TRUE(m.negotiate(kModern));
    m.setup_queue(0, 16, 0x1000, 0x2000, 0xfffff000, VirtioPci::kNoVector);  // outside RAM
    m.driver_ok();
    EXPECT_TRUE(m.status() & virtio::kStatusNeedsReset);
}

TEST(VirtioPci, NeedsResetOnBadQueueSize) {
    auto fd = std::make_shared<FakeDevice>();
    Machine m(fd);
    ASSERT_TRUE(m.negotiate(kModern));
    m.setup_queue(0, 12, 0x1000, 0x2000, 0x3000, VirtioPci::kNoVector);
    m.driver_ok();
    EXPECT_TRUE(m.status() & virtio::kStatusNeedsReset);
}

}  // namespace
}  // namespace khyve
