#include "kvm/kvm_interrupts.h"

#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "kvm/kvm_abi.h"

namespace khyve {

namespace {

class KvmMsiRoute : public MsiRoute {
public:
    KvmMsiRoute(KvmInterrupts& owner, unsigned gsi) : owner_(owner), gsi_(gsi) {
        int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0) throw sys_error("eventfd");
        fd_.reset(fd);
    }
    ~KvmMsiRoute() override {
        if (assigned_) owner_.irqfd(gsi_, fd_.get(), false);
        owner_.drop_route(gsi_);
    }
    int eventfd() const override { return fd_.get(); }
    void update(uint64_t address, uint32_t data, bool masked) override {
        std::lock_guard lk(mu_);
        if (masked || address == 0) {
            // A masked vector keeps its pending signal in the eventfd counter;
            // re-assigning the irqfd delivers it (KVM checks on assign).
            if (assigned_) owner_.irqfd(gsi_, fd_.get(), false);
            assigned_ = false;
            return;
        }
        owner_.set_route(gsi_, address, data);
        if (!assigned_) {
            owner_.irqfd(gsi_, fd_.get(), true);
            assigned_ = true;
        }
    }
    void trigger() override {
        uint64_t one = 1;
        ssize_t n = ::write(fd_.get(), &one, sizeof one);
        (void)n;  // EAGAIN only when the counter saturates: the interrupt is pending anyway
    }

private:
    KvmInterrupts& owner_;
    unsigned gsi_;
    Fd fd_;
    std::mutex mu_;
    bool assigned_ = false;
};

}  // namespace

std::unique_ptr<MsiRoute> KvmInterrupts::create_msi_route() {
    unsigned gsi;
    {
        std::lock_guard lk(mu_);
        gsi = next_gsi_++;
    }
    return std::make_unique<KvmMsiRoute>(*this, gsi);
}

void KvmInterrupts::set_route(unsigned gsi, uint64_t address, uint32_t data) {
    std::lock_guard lk(mu_);
    auto it = msi_.find(gsi);
    if (it != msi_.end() && it->second == std::make_pair(address, data)) return;
    msi_[gsi] = {address, data};
    commit_locked();
}

void KvmInterrupts::drop_route(unsigned gsi) {
    std::lock_guard lk(mu_);
    if (msi_.erase(gsi)) commit_locked();
}

void KvmInterrupts::apply_default_routes() {
    std::lock_guard lk(mu_);
    commit_locked();
}

void KvmInterrupts::commit_locked() {
    // KVM_SET_GSI_ROUTING replaces the whole table, so the default PIC/IOAPIC
    // routes KVM_CREATE_IRQCHIP set up are restated first.
    std::vector<kvm_irq_routing_entry> entries;
    for (unsigned gsi = 0; gsi < 24; ++gsi) {
        kvm_irq_routing_entry e{};
        e.gsi = gsi;
        e.type = KVM_IRQ_ROUTING_IRQCHIP;
        // The in-kernel PIT raises GSI 0; on a PC that arrives at IOAPIC pin 2
        // (the MADT's override and the MP table say so), and pin 2 has no ISA
        // source of its own.
        if (gsi != 2) {
            e.u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
            e.u.irqchip.pin = gsi == 0 ? 2 : gsi;
            entries.push_back(e);
        }
        if (gsi < 16 && gsi != 2) {
            e.u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
            e.u.irqchip.pin = gsi % 8;
            entries.push_back(e);
        }
    }
    for (const auto& [gsi, msg] : msi_) {
        kvm_irq_routing_entry e{};
        e.gsi = gsi;
        e.type = KVM_IRQ_ROUTING_MSI;
        e.u.msi.address_lo = static_cast<uint32_t>(msg.first);
        e.u.msi.address_hi = static_cast<uint32_t>(msg.first >> 32);
        e.u.msi.data = msg.second;
        entries.push_back(e);
    }
    kvm_abi::FlexArg<kvm_irq_routing_entry> r(entries);
    if (::ioctl(vm_.fd(), kvm_abi::kSetGsiRouting, r.arg()) < 0) throw sys_error("KVM_SET_GSI_ROUTING");
}

void KvmInterrupts::irqfd(unsigned gsi, int fd, bool assign) {
    kvm_irqfd f{};
    f.fd = static_cast<uint32_t>(fd);
    f.gsi = gsi;
    f.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN;
    if (::ioctl(vm_.fd(), KVM_IRQFD, &f) < 0 && assign) throw sys_error("KVM_IRQFD");
}

bool KvmInterrupts::add_ioeventfd(uint64_t addr, unsigned len, bool pio, int fd) {
    kvm_ioeventfd io{};
    io.addr = addr;
    io.len = len;
    io.fd = fd;
    io.flags = pio ? KVM_IOEVENTFD_FLAG_PIO : 0;
    return ::ioctl(vm_.fd(), KVM_IOEVENTFD, &io) == 0;
}

void KvmInterrupts::remove_ioeventfd(uint64_t addr, unsigned len, bool pio, int fd) {
    kvm_ioeventfd io{};
    io.addr = addr;
    io.len = len;
    io.fd = fd;
    io.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | KVM_IOEVENTFD_FLAG_DEASSIGN;
    ::ioctl(vm_.fd(), KVM_IOEVENTFD, &io);
}

}  // namespace khyve
