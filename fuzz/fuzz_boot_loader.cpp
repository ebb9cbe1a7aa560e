// bhyveload's Linux loader on hostile kernel images (bzImage or ELF bytes):
// load_linux must throw khyve::Error or succeed, never write outside RAM
// (guest RAM here is an exact mapping: a stray write past it faults), never
// throw anything else.
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/mman.h>

#include "boot/linux_loader.h"
#include "common/error.h"
#include "memory/guest_memory.h"
#include "platform/layout.h"

using namespace khyve;

namespace {

constexpr uint64_t kMiB = 1ull << 20;

// Mappings made once: fresh MAP_NORESERVE pages cost nothing until touched.
uint8_t* mapping(uint64_t len) {
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) __builtin_trap();
    return static_cast<uint8_t*>(p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static uint8_t* const low[2] = {mapping(32 * kMiB), mapping(64 * kMiB)};
    static uint8_t* const high = mapping(2 * kMiB);
    FuzzedDataProvider in(data, size);
    const unsigned which = in.ConsumeIntegralInRange(0, 1);
    LinuxBootSpec spec;
    spec.lowmem = which ? 64 * kMiB : 32 * kMiB;
    spec.highmem = in.ConsumeBool() ? 2 * kMiB : 0;
    spec.cmdline = in.ConsumeRandomLengthString(4096);
    spec.initrd.assign(in.ConsumeIntegralInRange<size_t>(0, 3 * kMiB), 0x11);
    spec.kernel = in.ConsumeRemainingBytes<uint8_t>();

    GuestMemory mem;
    mem.add_region(0, spec.lowmem, low[which]);
    if (spec.highmem) mem.add_region(layout::kHighMemBase, spec.highmem, high);
    try {
        (void)load_linux(mem, spec);
    } catch (const Error&) {
    }
    return 0;
}
