#include "boot/long_mode.h"

#include <array>
#include <vector>

#include "common/error.h"
#include "platform/layout.h"

namespace khyve::boot {
namespace {

constexpr uint64_t kPageSize = 0x1000;
constexpr uint64_t kPdpt = layout::kPml4 + kPageSize;
constexpr uint64_t kFirstPd = kPdpt + kPageSize;
constexpr unsigned kPdCount = 4;  // 4 x 1 GiB
constexpr uint64_t k2MiB = 2ull << 20;
constexpr uint64_t k1GiB = 1ull << 30;

void put(const GuestMemory& mem, uint64_t gpa, const void* src, uint64_t len, const char* what) {
    if (!mem.write(gpa, src, len))
        throw Error(std::string("guest memory has no RAM for the ") + what);
}

}  // namespace

void write_long_mode_tables(const GuestMemory& mem) {
    const std::array<uint64_t, kGdtEntries> gdt = {0, 0, kCodeDescriptor, kDataDescriptor};
    static_assert(kCodeSelector / 8 == 2 && kDataSelector / 8 == 3);
    put(mem, layout::kGdt, gdt.data(), sizeof gdt, "boot GDT");

    // One table image: PML4, PDPT, then the PDs, contiguous as layout.h says.
    std::vector<uint64_t> t((2 + kPdCount) * 512, 0);
    t[0] = kPdpt | kPtePresent | kPteWrite;
    for (unsigned i = 0; i < kPdCount; ++i) {
        t[512 + i] = (kFirstPd + i * kPageSize) | kPtePresent | kPteWrite;
        for (unsigned j = 0; j < 512; ++j)
            t[(2 + i) * 512 + j] = (i * k1GiB + j * k2MiB) | kPtePresent | kPteWrite | kPteLarge;
    }
    put(mem, layout::kPml4, t.data(), t.size() * sizeof(uint64_t), "boot page tables");
}

BootState long_mode_state(uint64_t rip, uint64_t rsi) {
    BootState s;
    s.rip = rip;
    s.rsi = rsi;
    s.rsp = kBootStackTop;
    s.cr0 = kCr0;
    s.cr3 = layout::kPml4;
    s.cr4 = kCr4;
    s.efer = kEfer;
    s.gdt_base = layout::kGdt;
    s.gdt_limit = kGdtEntries * 8 - 1;
    s.code_selector = kCodeSelector;
    s.data_selector = kDataSelector;
    return s;
}

SegmentSetup decode_segment(uint64_t d, uint16_t selector) {
    SegmentSetup s;
    s.selector = selector;
    s.base = ((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24);
    uint32_t raw_limit = uint32_t((d & 0xFFFF) | (((d >> 48) & 0xF) << 16));
    s.type = uint8_t((d >> 40) & 0xF);
    s.s = uint8_t((d >> 44) & 1);
    s.dpl = uint8_t((d >> 45) & 3);
    s.present = uint8_t((d >> 47) & 1);
    s.avl = uint8_t((d >> 52) & 1);
    s.l = uint8_t((d >> 53) & 1);
    s.db = uint8_t((d >> 54) & 1);
    s.g = uint8_t((d >> 55) & 1);
    s.limit = s.g ? (raw_limit << 12) | 0xFFF : raw_limit;
    return s;
}

BootSegments boot_segments(const BootState& st) {
    if (st.code_selector != kCodeSelector)
        throw Error("boot state: code selector " + std::to_string(st.code_selector) +
                    " is not the boot GDT's code segment (0x10)");
    if (st.data_selector != kDataSelector)
        throw Error("boot state: data selector " + std::to_string(st.data_selector) +
                    " is not the boot GDT's data segment (0x18)");
    return {decode_segment(kCodeDescriptor, kCodeSelector), decode_segment(kDataDescriptor, kDataSelector)};
}

}  // namespace khyve::boot
