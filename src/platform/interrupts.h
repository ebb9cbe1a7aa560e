// How devices raise interrupts and receive guest notifications, without
// knowing about KVM. The machine (src/vm/) implements these with KVM_IRQ_LINE,
// KVM_IRQFD + GSI routing and KVM_IOEVENTFD; unit tests use fakes.
#pragma once

#include <cstdint>
#include <memory>

namespace khyve {

// One MSI route fed by an eventfd (KVM irqfd). Writing 1 to eventfd() injects
// the interrupt described by the last update(); a masked route is not injected.
class MsiRoute {
public:
    virtual ~MsiRoute() = default;
    virtual int eventfd() const = 0;
    virtual void update(uint64_t address, uint32_t data, bool masked) = 0;
    // Convenience: inject now (writes the eventfd).
    virtual void trigger() = 0;
};

class InterruptController {
public:
    virtual ~InterruptController() = default;
    // Drive a (level) line of the PIC/IOAPIC. ISA devices use GSIs 0-15,
    // PCI INTx use 16-23.
    virtual void set_irq_line(unsigned gsi, bool level) = 0;
    // Inject one MSI directly (KVM_SIGNAL_MSI); for rare events.
    virtual void signal_msi(uint64_t address, uint32_t data) = 0;
    // A new irqfd-backed route; the fast path for MSI-X vectors.
    virtual std::unique_ptr<MsiRoute> create_msi_route() = 0;
};

// Guest writes to [addr, addr+len) that KVM turns into eventfd signals
// without an exit to user space (KVM_IOEVENTFD).
class IoEventRegistry {
public:
    virtual ~IoEventRegistry() = default;
    // false if KVM refused (the device then relies on the trapped write path).
    virtual bool add_ioeventfd(uint64_t addr, unsigned len, bool pio, int fd) = 0;
    virtual void remove_ioeventfd(uint64_t addr, unsigned len, bool pio, int fd) = 0;
};

}  // namespace khyve
