// A PCI function: its configuration space (type 0 header, 4 KiB so that
// ECAM reaches the extended space), its BARs and its INTx pin. Derived
// classes add capabilities and implement bar_read()/bar_write().
//
// Config space is a byte array with a per-byte writable mask, so the
// standard behaviours fall out of one rule (new = old & ~mask | val & mask):
// read-only ID registers, BAR sizing (a BAR's mask has the size bits clear,
// so writing all ones reads back the size mask), Interrupt Line etc.
//
// Threading: config accesses and BAR accesses come from vCPU threads;
// config space is protected by an internal lock and config writes are
// serialised, so hooks (config_written, bar_moved) never run concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

namespace khyve {

namespace pci {
inline constexpr unsigned kVendorId = 0x00;
inline constexpr unsigned kDeviceId = 0x02;
inline constexpr unsigned kCommand = 0x04;
inline constexpr unsigned kStatus = 0x06;
inline constexpr unsigned kRevision = 0x08;
inline constexpr unsigned kProgIf = 0x09;
inline constexpr unsigned kSubclass = 0x0a;
inline constexpr unsigned kClass = 0x0b;
inline constexpr unsigned kCacheLineSize = 0x0c;
inline constexpr unsigned kLatencyTimer = 0x0d;
inline constexpr unsigned kHeaderType = 0x0e;
inline constexpr unsigned kBar0 = 0x10;
inline constexpr unsigned kSubsystemVendor = 0x2c;
inline constexpr unsigned kSubsystemId = 0x2e;
inline constexpr unsigned kRomBar = 0x30;
inline constexpr unsigned kCapPtr = 0x34;
inline constexpr unsigned kInterruptLine = 0x3c;
inline constexpr unsigned kInterruptPin = 0x3d;
inline constexpr unsigned kCapStart = 0x40;  // first byte usable for capabilities

inline constexpr uint16_t kCmdIo = 0x0001;
inline constexpr uint16_t kCmdMemory = 0x0002;
inline constexpr uint16_t kCmdBusMaster = 0x0004;
inline constexpr uint16_t kCmdParity = 0x0040;
inline constexpr uint16_t kCmdSerr = 0x0100;
inline constexpr uint16_t kCmdIntxDisable = 0x0400;

inline constexpr uint16_t kStatusIntx = 0x0008;
inline constexpr uint16_t kStatusCapList = 0x0010;

inline constexpr uint8_t kHeaderMultiFunction = 0x80;

inline constexpr uint8_t kCapIdVendor = 0x09;
inline constexpr uint8_t kCapIdMsix = 0x11;

inline constexpr unsigned kNumBars = 6;
}  // namespace pci

enum class BarType : uint8_t { kIo, kMem32, kMem64 };

struct PciIds {
    uint16_t vendor = 0;
    uint16_t device = 0;
    uint8_t class_code = 0;
    uint8_t subclass = 0;
    uint8_t prog_if = 0;
    uint8_t revision = 0;
    uint16_t subsystem_vendor = 0;
    uint16_t subsystem_id = 0;
};

// A BAR as the guest currently decodes it.
struct BarRange {
    unsigned bar;
    bool io;
    uint64_t base;
    uint64_t size;
};

class PciDevice {
public:
    static constexpr unsigned kConfigSize = 4096;

    // The bus a device is attached to; set by PciBus.
    class Host {
    public:
        virtual ~Host() = default;
        virtual void bars_changed(PciDevice& dev) = 0;
        virtual void set_intx(PciDevice& dev, bool level) = 0;
    };

    explicit PciDevice(const PciIds& ids);
    virtual ~PciDevice() = default;
    PciDevice(const PciDevice&) = delete;
    PciDevice& operator=(const PciDevice&) = delete;

    // Config space access; [offset, offset+size) must lie inside kConfigSize
    // (out-of-range parts read as ones and are not written).
    void config_read(unsigned offset, std::span<uint8_t> data);
    void config_write(unsigned offset, std::span<const uint8_t> data);

    // BAR accesses: offset relative to the BAR base, access wholly inside it.
    virtual void bar_read(unsigned bar, uint64_t offset, std::span<uint8_t> data);
    virtual void bar_write(unsigned bar, uint64_t offset, std::span<const uint8_t> data);

    // ---- set-up (before the guest runs) ----
    // size: a power of two (>= 16 for memory, >= 4 for I/O). A 64-bit BAR
    // also takes slot index+1.
    void add_bar(unsigned index, BarType type, uint64_t size, bool prefetchable = false);
    // pin: 1 = INTA .. 4 = INTD, 0 = none.
    void set_interrupt_pin(uint8_t pin);
    uint8_t interrupt_pin() const;
    void set_multifunction(bool on);
    void attach(Host* host) { host_ = host; }

    struct BarInfo {
        BarType type = BarType::kMem32;
        uint64_t size = 0;  // 0: unused
        bool prefetchable = false;
    };
    const BarInfo& bar_info(unsigned index) const { return bars_[index]; }
    // Address currently programmed in the BAR (whether decoded or not).
    uint64_t bar_address(unsigned index) const;
    // BARs the device currently decodes (address programmed, command bit on).
    std::vector<BarRange> decoded_bars() const;

    // Raise/lower INTx (ignored without a pin or with INTx disabled).
    void set_intx(bool level);

protected:
    // Adds a capability (body[0] = id, body[1] is overwritten with the next
    // pointer) and links it into the list; returns its config offset.
    // Everything in it is read-only until set_writable().
    unsigned add_capability(std::span<const uint8_t> body);
    // Makes bits of config space writable by the guest (byte by byte).
    void set_writable(unsigned offset, std::span<const uint8_t> mask);
    void set_writable16(unsigned offset, uint16_t mask);
    void set_writable32(unsigned offset, uint32_t mask);

    // Direct config space access for derived classes (takes the lock).
    uint8_t cfg8(unsigned offset) const;
    uint16_t cfg16(unsigned offset) const;
    uint32_t cfg32(unsigned offset) const;
    void set_cfg8(unsigned offset, uint8_t v);
    void set_cfg16(unsigned offset, uint16_t v);
    void set_cfg32(unsigned offset, uint32_t v);

    // Before a guest config read of [offset, offset+len) is served: a chance
    // to refresh registers whose value is computed (no lock held).
    virtual void config_reading(unsigned offset, unsigned len) {
        (void)offset;
        (void)len;
    }
    // After a guest config write to [offset, offset+len) has landed.
    virtual void config_written(unsigned offset, unsigned len) {
        (void)offset;
        (void)len;
    }
    // A BAR's decoded range changed (moved, or decode turned on/off). before /
    // after: the range, or size 0 when not decoded.
    virtual void bar_moved(unsigned bar, const BarRange& before, const BarRange& after) {
        (void)bar;
        (void)before;
        (void)after;
    }

private:
    std::vector<BarRange> decoded_bars_locked() const;
    uint64_t bar_address_locked(unsigned index) const;
    void update_intx();  // with intx_mu_ held

    mutable std::mutex mu_;       // config bytes, masks, intx state
    std::mutex write_mu_;         // serialises config_write with its hooks
    std::mutex intx_mu_;          // orders INTx level changes reaching the host
    std::array<uint8_t, kConfigSize> cfg_{};
    std::array<uint8_t, kConfigSize> wmask_{};
    std::array<BarInfo, pci::kNumBars> bars_{};
    unsigned last_cap_ = 0;       // offset of the last capability, 0 = none
    unsigned next_cap_ = pci::kCapStart;
    bool intx_requested_ = false; // what the device model asked for
    bool intx_line_ = false;      // what we told the host
    Host* host_ = nullptr;
};

}  // namespace khyve
