// Variable-length KVM ioctl arguments built by hand. The kernel's uapi
// headers declare their trailing arrays with __DECLARE_FLEX_ARRAY, which in
// C++ wraps the array in a struct beside an empty struct of size 1: sizeof()
// and offsetof(entries) then differ from C (kvm_cpuid2 is 12 bytes with
// entries at 12, not 8), and so do the ioctl numbers derived from them —
// KVM answers EINVAL. khyve lays these arguments out as the C ABI does.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace khyve::kvm_abi {

// The fixed 8-byte header of kvm_cpuid2, kvm_msrs and kvm_irq_routing:
// a count and a padding/flags word.
struct Header {
    uint32_t count;
    uint32_t pad;
};
static_assert(sizeof(Header) == 8);

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, Header);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, Header);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, Header);
inline constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, Header);
inline constexpr unsigned long kSetGsiRouting = _IOW(KVMIO, 0x6a, Header);

// Header followed by `count` entries, contiguous, 8-byte aligned.
template <class Entry>
class FlexArg {
public:
    explicit FlexArg(size_t count) : buf_((sizeof(Header) + count * sizeof(Entry) + 7) / 8) {
        header()->count = static_cast<uint32_t>(count);
    }
    FlexArg(const std::vector<Entry>& entries) : FlexArg(entries.size()) {
        if (!entries.empty()) std::memcpy(this->entries(), entries.data(), entries.size() * sizeof(Entry));
    }
    Header* header() { return reinterpret_cast<Header*>(buf_.data()); }
    Entry* entries() { return reinterpret_cast<Entry*>(reinterpret_cast<uint8_t*>(buf_.data()) + sizeof(Header)); }
    void* arg() { return buf_.data(); }
    std::vector<Entry> to_vector() {
        return std::vector<Entry>(entries(), entries() + header()->count);
    }

private:
    std::vector<uint64_t> buf_;
};

}  // namespace khyve::kvm_abi
