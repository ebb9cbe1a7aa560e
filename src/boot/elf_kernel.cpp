#include "boot/elf_kernel.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>

#include "common/error.h"
#include "common/le_bytes.h"

namespace khyve::boot {
namespace {

// ELF64 header and program header field offsets (System V gABI).
constexpr size_t kEiClass = 4, kEiData = 5;
constexpr size_t kEType = 16, kEMachine = 18, kEEntry = 24, kEPhoff = 32, kEPhentsize = 54, kEPhnum = 56;
constexpr size_t kEhdrSize = 64;
constexpr size_t kPType = 0, kPOffset = 8, kPVaddr = 16, kPPaddr = 24, kPFilesz = 32, kPMemsz = 40;
constexpr size_t kPhdrSize = 56;
constexpr uint8_t kClass64 = 2, kDataLsb = 1;
constexpr uint16_t kTypeExec = 2, kMachineX86_64 = 62;
constexpr uint32_t kPtLoad = 1;

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

bool contains(uint64_t base, uint64_t size, uint64_t addr) { return addr >= base && addr - base < size; }

}  // namespace

bool looks_like_elf(std::span<const uint8_t> image) {
    return image.size() >= 4 && image[0] == 0x7F && image[1] == 'E' && image[2] == 'L' && image[3] == 'F';
}

ElfKernel parse_elf_kernel(std::span<const uint8_t> image) {
    if (!looks_like_elf(image) || image.size() < kEhdrSize || image[kEiClass] != kClass64 ||
        image[kEiData] != kDataLsb || get_le<uint16_t>(image, kEMachine) != kMachineX86_64)
        throw Error("kernel: not a Linux bzImage or 64-bit ELF vmlinux");
    if (get_le<uint16_t>(image, kEType) != kTypeExec)
        throw Error("kernel: ELF file is not an executable (ET_EXEC)");

    uint64_t e_entry = *get_le<uint64_t>(image, kEEntry);
    uint64_t phoff = *get_le<uint64_t>(image, kEPhoff);
    uint16_t phentsize = *get_le<uint16_t>(image, kEPhentsize);
    uint16_t phnum = *get_le<uint16_t>(image, kEPhnum);
    if (phnum == 0) throw Error("kernel: ELF file has no program headers");
    if (phentsize < kPhdrSize) throw Error("kernel: ELF program header size " + std::to_string(phentsize) + " is too small");
    uint64_t table = uint64_t(phentsize) * phnum;  // <= 65535^2, no overflow
    if (phoff > image.size() || table > image.size() - phoff)
        throw Error("kernel: ELF program headers lie outside the file");

    struct Raw { uint64_t vaddr, paddr, memsz; };
    std::vector<Raw> raws;
    ElfKernel k;
    k.lowest = UINT64_MAX;
    for (uint16_t i = 0; i < phnum; ++i) {
        auto ph = image.subspan(phoff + uint64_t(i) * phentsize, kPhdrSize);
        if (*get_le<uint32_t>(ph, kPType) != kPtLoad) continue;
        uint64_t off = *get_le<uint64_t>(ph, kPOffset);
        uint64_t vaddr = *get_le<uint64_t>(ph, kPVaddr);
        uint64_t paddr = *get_le<uint64_t>(ph, kPPaddr);
        uint64_t filesz = *get_le<uint64_t>(ph, kPFilesz);
        uint64_t memsz = *get_le<uint64_t>(ph, kPMemsz);
        std::string which = "kernel: ELF segment " + std::to_string(i);
        if (off > image.size() || filesz > image.size() - off)
            throw Error(which + " (offset " + hex(off) + ", " + std::to_string(filesz) + " bytes) lies outside the file");
        if (filesz > memsz) throw Error(which + " has more file bytes than memory bytes");
        if (paddr + memsz < paddr) throw Error(which + " wraps the physical address space");
        if (memsz == 0) continue;
        k.segments.push_back({paddr, memsz, image.subspan(off, filesz)});
        raws.push_back({vaddr, paddr, memsz});
        k.lowest = std::min(k.lowest, paddr);
        k.end = std::max(k.end, paddr + memsz);
    }
    if (k.segments.empty()) throw Error("kernel: ELF file has no loadable segments");

    auto physical = std::find_if(raws.begin(), raws.end(),
                                 [&](const Raw& r) { return contains(r.paddr, r.memsz, e_entry); });
    if (physical != raws.end()) {
        k.entry = e_entry;
    } else {
        auto virt = std::find_if(raws.begin(), raws.end(),
                                 [&](const Raw& r) { return contains(r.vaddr, r.memsz, e_entry); });
        if (virt == raws.end()) throw Error("kernel: ELF entry point " + hex(e_entry) + " is in no loadable segment");
        k.entry = virt->paddr + (e_entry - virt->vaddr);
    }
    return k;
}

}  // namespace khyve::boot
