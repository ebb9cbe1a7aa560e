// InterruptController and IoEventRegistry on top of KVM: KVM_IRQ_LINE for the
// PIC/IOAPIC lines, KVM_IRQFD + KVM_SET_GSI_ROUTING for MSI routes (GSI 24
// and up), KVM_IOEVENTFD for doorbells.
#pragma once

#include <map>
#include <mutex>

#include "kvm/kvm.h"
#include "platform/interrupts.h"

namespace khyve {

class KvmInterrupts : public InterruptController, public IoEventRegistry {
public:
    explicit KvmInterrupts(KvmVm& vm) : vm_(vm) {}

    void set_irq_line(unsigned gsi, bool level) override { vm_.irq_line(gsi, level); }
    void signal_msi(uint64_t address, uint32_t data) override { vm_.signal_msi(address, data); }
    std::unique_ptr<MsiRoute> create_msi_route() override;

    bool add_ioeventfd(uint64_t addr, unsigned len, bool pio, int fd) override;
    void remove_ioeventfd(uint64_t addr, unsigned len, bool pio, int fd) override;

    // Installs the PC routing (PIT on IOAPIC pin 2) before the guest runs.
    void apply_default_routes();

    // Called by routes (under no lock of theirs).
    void set_route(unsigned gsi, uint64_t address, uint32_t data);
    void drop_route(unsigned gsi);
    void irqfd(unsigned gsi, int fd, bool assign);

private:
    void commit_locked();
    KvmVm& vm_;
    std::mutex mu_;
    unsigned next_gsi_ = 24;
    std::map<unsigned, std::pair<uint64_t, uint32_t>> msi_;  // gsi -> address, data
};

}  // namespace khyve
