#include "kvm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cstdlib>
#include <memory>

#include "common/error.h"
#include "kvm/kvm_abi.h"
#include "platform/layout.h"

namespace khyve {

namespace {

const char* kvm_device_path() {
    const char* p = std::getenv("KHYVE_KVM_DEVICE");
    return p && *p ? p : "/dev/kvm";
}

std::string load_advice() {
    return "load kvm_intel or kvm_amd (modprobe kvm_intel / modprobe kvm_amd) and enable "
           "virtualization in the firmware";
}

}  // namespace

bool KvmSystem::is_pvm() {
    struct stat st;
    return ::stat("/sys/module/kvm_pvm", &st) == 0;
}

KvmSystem KvmSystem::open() {
    const char* path = kvm_device_path();
    int fd = ::open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT)
            throw Error(std::string(path) + " does not exist: " + load_advice());
        if (err == EACCES || err == EPERM)
            throw Error(std::string(path) +
                        ": permission denied: run as root or add yourself to the kvm group");
        throw sys_error(std::string("cannot open ") + path, err);
    }
    KvmSystem sys{Fd(fd)};
    int version = ::ioctl(fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION)
        throw Error(std::string(path) + ": unsupported KVM API version " + std::to_string(version));
    struct Needed {
        long cap;
        const char* name;
    };
    static const Needed needed[] = {
        {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
        {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
        {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
        {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
        {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
        {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
        {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
        {KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI"},
        {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
        {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    };
    for (const auto& n : needed) {
        if (sys.check_extension(n.cap) <= 0)
            throw Error(std::string(path) + " lacks " + n.name + ": this host's KVM is too old");
    }
    sys.vcpu_mmap_size_ = ::ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (sys.vcpu_mmap_size_ <= 0) throw sys_error("KVM_GET_VCPU_MMAP_SIZE");
    return sys;
}

int KvmSystem::check_extension(long cap) const {
    return ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap);
}

std::vector<kvm_cpuid_entry2> KvmSystem::supported_cpuid() const {
    for (size_t n = 128; n <= 4096; n *= 2) {
        kvm_abi::FlexArg<kvm_cpuid_entry2> c(n);
        if (::ioctl(fd_.get(), kvm_abi::kGetSupportedCpuid, c.arg()) == 0) return c.to_vector();
        if (errno != E2BIG) throw sys_error("KVM_GET_SUPPORTED_CPUID");
    }
    throw Error("KVM_GET_SUPPORTED_CPUID: too many entries");
}

KvmVm::KvmVm(const KvmSystem& sys) {
    int fd;
    do {
        fd = ::ioctl(sys.fd(), KVM_CREATE_VM, 0);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) throw sys_error("KVM_CREATE_VM");
    fd_.reset(fd);
}

void KvmVm::setup_x86_irqchip() {
    if (::ioctl(fd_.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(layout::kKvmTss)) < 0)
        throw sys_error("KVM_SET_TSS_ADDR");
    uint64_t idmap = layout::kKvmIdentityMap;
    if (::ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
        throw sys_error("KVM_SET_IDENTITY_MAP_ADDR");
    if (::ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0) < 0) throw sys_error("KVM_CREATE_IRQCHIP");
    kvm_pit_config pit{};
    pit.flags = KVM_PIT_SPEAKER_DUMMY;
    if (::ioctl(fd_.get(), KVM_CREATE_PIT2, &pit) < 0) throw sys_error("KVM_CREATE_PIT2");
}

void KvmVm::set_user_memory_region(uint32_t slot, uint64_t gpa, uint64_t size, void* host) {
    kvm_userspace_memory_region r{};
    r.slot = slot;
    r.guest_phys_addr = gpa;
    r.memory_size = size;
    r.userspace_addr = reinterpret_cast<uint64_t>(host);
    if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &r) < 0)
        throw sys_error("KVM_SET_USER_MEMORY_REGION");
}

void KvmVm::irq_line(unsigned gsi, bool level) {
    kvm_irq_level l{};
    l.irq = gsi;
    l.level = level ? 1 : 0;
    ::ioctl(fd_.get(), KVM_IRQ_LINE, &l);
}

void KvmVm::signal_msi(uint64_t address, uint32_t data) {
    kvm_msi m{};
    m.address_lo = static_cast<uint32_t>(address);
    m.address_hi = static_cast<uint32_t>(address >> 32);
    m.data = data;
    ::ioctl(fd_.get(), KVM_SIGNAL_MSI, &m);
}

KvmVcpu::KvmVcpu(const KvmSystem& sys, const KvmVm& vm, unsigned id) : id_(id) {
    int fd = ::ioctl(vm.fd(), KVM_CREATE_VCPU, static_cast<unsigned long>(id));
    if (fd < 0) throw sys_error("KVM_CREATE_VCPU " + std::to_string(id));
    fd_.reset(fd);
    void* p = ::mmap(nullptr, size_t(sys.vcpu_mmap_size()), PROT_READ | PROT_WRITE, MAP_SHARED,
                     fd, 0);
    if (p == MAP_FAILED) throw sys_error("mmap of the vCPU run structure");
    run_ = Mapping(p, size_t(sys.vcpu_mmap_size()));
}

int KvmVcpu::run() {
    if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) return -errno;
    return 0;
}

#define KHYVE_VCPU_IOCTL(req, arg, what) \
    if (::ioctl(fd_.get(), req, arg) < 0) throw sys_error(what)

kvm_regs KvmVcpu::get_regs() const {
    kvm_regs r{};
    KHYVE_VCPU_IOCTL(KVM_GET_REGS, &r, "KVM_GET_REGS");
    return r;
}
void KvmVcpu::set_regs(const kvm_regs& r) { KHYVE_VCPU_IOCTL(KVM_SET_REGS, &r, "KVM_SET_REGS"); }
kvm_sregs KvmVcpu::get_sregs() const {
    kvm_sregs s{};
    KHYVE_VCPU_IOCTL(KVM_GET_SREGS, &s, "KVM_GET_SREGS");
    return s;
}
void KvmVcpu::set_sregs(const kvm_sregs& s) { KHYVE_VCPU_IOCTL(KVM_SET_SREGS, &s, "KVM_SET_SREGS"); }
void KvmVcpu::set_fpu(const kvm_fpu& f) { KHYVE_VCPU_IOCTL(KVM_SET_FPU, &f, "KVM_SET_FPU"); }

void KvmVcpu::set_cpuid(const std::vector<kvm_cpuid_entry2>& entries) {
    kvm_abi::FlexArg<kvm_cpuid_entry2> c(entries);
    KHYVE_VCPU_IOCTL(kvm_abi::kSetCpuid2, c.arg(), "KVM_SET_CPUID2");
}

void KvmVcpu::set_msrs(const std::vector<kvm_msr_entry>& msrs) {
    kvm_abi::FlexArg<kvm_msr_entry> m(msrs);
    int n = ::ioctl(fd_.get(), kvm_abi::kSetMsrs, m.arg());
    if (n < 0) throw sys_error("KVM_SET_MSRS");
    if (size_t(n) != msrs.size()) throw Error("KVM_SET_MSRS: MSR " + std::to_string(msrs[size_t(n)].index) + " refused");
}

kvm_lapic_state KvmVcpu::get_lapic() const {
    kvm_lapic_state s{};
    KHYVE_VCPU_IOCTL(KVM_GET_LAPIC, &s, "KVM_GET_LAPIC");
    return s;
}
void KvmVcpu::set_lapic(const kvm_lapic_state& s) {
    KHYVE_VCPU_IOCTL(KVM_SET_LAPIC, &s, "KVM_SET_LAPIC");
}
kvm_mp_state KvmVcpu::get_mp_state() const {
    kvm_mp_state s{};
    KHYVE_VCPU_IOCTL(KVM_GET_MP_STATE, &s, "KVM_GET_MP_STATE");
    return s;
}

kvm_fpu KvmVcpu::get_fpu() const {
    kvm_fpu f{};
    KHYVE_VCPU_IOCTL(KVM_GET_FPU, &f, "KVM_GET_FPU");
    return f;
}

uint64_t KvmVcpu::get_msr(uint32_t index) const {
    kvm_abi::FlexArg<kvm_msr_entry> m(1);
    m.entries()[0].index = index;
    if (::ioctl(fd_.get(), kvm_abi::kGetMsrs, m.arg()) != 1)
        throw Error("KVM_GET_MSRS: MSR " + std::to_string(index) + " unreadable");
    return m.entries()[0].data;
}

void KvmVcpu::set_msr(uint32_t index, uint64_t value) {
    kvm_msr_entry e{};
    e.index = index;
    e.data = value;
    set_msrs({e});
}

std::optional<uint64_t> KvmVcpu::translate(uint64_t gva) const {
    kvm_translation t{};
    t.linear_address = gva;
    if (::ioctl(fd_.get(), KVM_TRANSLATE, &t) < 0 || !t.valid) return std::nullopt;
    return t.physical_address;
}

void KvmVcpu::set_guest_debug(const kvm_guest_debug& d) {
    KHYVE_VCPU_IOCTL(KVM_SET_GUEST_DEBUG, &d, "KVM_SET_GUEST_DEBUG");
}

int KvmVcpu::stats_fd() const {
#ifdef KVM_GET_STATS_FD
    return ::ioctl(fd_.get(), KVM_GET_STATS_FD, 0);
#else
    return -1;
#endif
}

#undef KHYVE_VCPU_IOCTL

}  // namespace khyve
