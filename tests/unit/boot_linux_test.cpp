#include "boot/linux_loader.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "boot/boot_params.h"
#include "boot/long_mode.h"
#include "common/error.h"
#include "common/mapping.h"
#include "platform/layout.h"

namespace khyve {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
using boot::E820Entry;

// Guest RAM backed by lazily zeroed anonymous memory, like the VM object file.
struct TestRam {
    Mapping low, high;
    GuestMemory mem;
    explicit TestRam(uint64_t lowmem, uint64_t highmem = 0) {
        low = map(lowmem);
        mem.add_region(0, lowmem, low.data());
        if (highmem) {
            high = map(highmem);
            mem.add_region(layout::kHighMemBase, highmem, high.data());
        }
    }
    static Mapping map(uint64_t len) {
        void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap");
        return Mapping(p, len);
    }
    template <class T>
    T get(uint64_t gpa) const {
        auto v = mem.read_obj<T>(gpa);
        EXPECT_TRUE(v) << "read at " << gpa;
        return v.value_or(T{});
    }
    std::vector<uint8_t> bytes(uint64_t gpa, uint64_t len) const {
        std::vector<uint8_t> v(len);
        EXPECT_TRUE(mem.read(gpa, v.data(), len));
        return v;
    }
};

template <class T>
void put(std::vector<uint8_t>& b, size_t off, T v) {
    for (size_t i = 0; i < sizeof(T); ++i) b.at(off + i) = uint8_t(uint64_t(v) >> (8 * i));
}

struct FakeBz {
    uint8_t setup_sects = 4;
    uint16_t version = 0x020F;
    uint8_t loadflags = 0x01;
    uint16_t xloadflags = 0x03;
    uint32_t initrd_addr_max = 0x7FFFFFFF;
    uint32_t kernel_alignment = 0x200000;
    uint8_t relocatable = 1;
    uint32_t cmdline_size = 2047;
    uint64_t pref_address = 0x1000000;
    uint32_t init_size = 0x800000;  // runs at 16 MiB, needs up to 24 MiB
    size_t payload = 0x3000;
    bool set_syssize = true;
};

std::vector<uint8_t> make_bzimage(const FakeBz& f) {
    size_t setup = (size_t(f.setup_sects ? f.setup_sects : 4) + 1) * 512;
    std::vector<uint8_t> b(setup + f.payload, 0);
    b[0x1EF] = 0xFF;                       // sentinel in the file; must not reach boot_params
    b[0x1F1] = f.setup_sects;
    if (f.set_syssize) put<uint32_t>(b, 0x1F4, uint32_t(f.payload / 16));
    put<uint16_t>(b, 0x1FC, 0x1234);       // root_dev: proves the header was copied
    put<uint16_t>(b, 0x1FE, 0xAA55);
    b[0x200] = 0xEB;
    b[0x201] = 0x6A;                       // header ends at 0x26C, as in 6.x kernels
    put<uint32_t>(b, 0x202, 0x53726448);
    put<uint16_t>(b, 0x206, f.version);
    b[0x211] = f.loadflags;
    put<uint32_t>(b, 0x22C, f.initrd_addr_max);
    put<uint32_t>(b, 0x230, f.kernel_alignment);
    b[0x234] = f.relocatable;
    b[0x235] = 21;
    put<uint16_t>(b, 0x236, f.xloadflags);
    put<uint32_t>(b, 0x238, f.cmdline_size);
    put<uint64_t>(b, 0x258, f.pref_address);
    put<uint32_t>(b, 0x260, f.init_size);
    for (size_t i = 0; i < f.payload; ++i) b[setup + i] = uint8_t(i * 7 + 3);
    return b;
}

LinuxBootSpec spec_for(std::vector<uint8_t> kernel, uint64_t lowmem, uint64_t highmem = 0) {
    LinuxBootSpec s;
    s.kernel = std::move(kernel);
    s.lowmem = lowmem;
    s.highmem = highmem;
    s.cmdline = "console=ttyS0 root=/dev/vda1";
    return s;
}

std::string load_error(const LinuxBootSpec& spec, uint64_t ram = 64 * kMiB) {
    TestRam ram_(ram);
    try {
        load_linux(ram_.mem, spec);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

constexpr uint64_t zp(size_t off) { return layout::kZeroPage + off; }

TEST(BootLinux, ZeroPageHeaderAndLoaderFields) {
    TestRam ram(64 * kMiB);
    auto image = make_bzimage({});
    BootState st = load_linux(ram.mem, spec_for(image, 64 * kMiB));
    EXPECT_EQ(st.rip, 0x100000u + 0x200u);
    EXPECT_EQ(st.rsi, layout::kZeroPage);

    // Setup header copied verbatim from 0x1F1 to its end...
    EXPECT_EQ(ram.get<uint8_t>(zp(0x1F1)), 4);
    EXPECT_EQ(ram.get<uint16_t>(zp(0x1FC)), 0x1234);
    EXPECT_EQ(ram.get<uint16_t>(zp(0x1FE)), 0xAA55);
    EXPECT_EQ(ram.get<uint32_t>(zp(0x202)), 0x53726448u);
    EXPECT_EQ(ram.get<uint16_t>(zp(0x206)), 0x020F);
    EXPECT_EQ(ram.get<uint16_t>(zp(0x236)), 0x03);
    EXPECT_EQ(ram.get<uint32_t>(zp(0x260)), 0x800000u);
    // ...then the loader's fields.
    EXPECT_EQ(ram.get<uint8_t>(zp(0x210)), 0xFF);                 // type_of_loader
    EXPECT_EQ(ram.get<uint8_t>(zp(0x211)), 0x81);                 // LOADED_HIGH | CAN_USE_HEAP
    EXPECT_EQ(ram.get<uint16_t>(zp(0x224)), 0xDE00);              // heap_end_ptr
    EXPECT_EQ(ram.get<uint16_t>(zp(0x1FA)), 0xFFFF);              // vid_mode "normal"
    EXPECT_EQ(ram.get<uint32_t>(zp(0x214)), 0x100000u);           // code32_start
    EXPECT_EQ(ram.get<uint32_t>(zp(0x228)), layout::kCmdline);    // cmd_line_ptr
    EXPECT_EQ(ram.get<uint32_t>(zp(0x0C8)), 0u);                  // ext_cmd_line_ptr
    EXPECT_EQ(ram.get<uint32_t>(zp(0x218)), 0u);                  // no initrd
    EXPECT_EQ(ram.get<uint32_t>(zp(0x21C)), 0u);
    EXPECT_EQ(ram.get<uint64_t>(zp(0x070)), 0u);                  // acpi_rsdp_addr: Linux scans
    EXPECT_EQ(ram.get<uint8_t>(zp(0x1EF)), 0);                    // sentinel stays clear
    // Nothing but the header and e820 outside the fields above.
    for (size_t off : {0x000u, 0x040u, 0x0B0u, 0x1E0u, 0x26Cu, 0x280u, 0xD00u, 0xFF8u})
        EXPECT_EQ(ram.get<uint64_t>(zp(off)), 0u) << "offset " << off;

    // The protected-mode kernel sits at 1 MiB.
    size_t setup = 5 * 512;
    EXPECT_EQ(ram.bytes(0x100000, image.size() - setup),
              std::vector<uint8_t>(image.begin() + setup, image.end()));
}

TEST(BootLinux, CommandLineAtItsAddress) {
    TestRam ram(64 * kMiB);
    auto spec = spec_for(make_bzimage({}), 64 * kMiB);
    load_linux(ram.mem, spec);
    auto got = ram.bytes(layout::kCmdline, spec.cmdline.size() + 1);
    EXPECT_EQ(std::string(got.begin(), got.end() - 1), spec.cmdline);
    EXPECT_EQ(got.back(), 0);
}

std::vector<E820Entry> read_e820(const TestRam& ram) {
    std::vector<E820Entry> v;
    unsigned n = ram.get<uint8_t>(zp(0x1E8));
    for (unsigned i = 0; i < n; ++i) {
        uint64_t e = zp(0x2D0 + i * 20);
        v.push_back({ram.get<uint64_t>(e), ram.get<uint64_t>(e + 8), ram.get<uint32_t>(e + 16)});
    }
    return v;
}

TEST(BootLinux, E820LowMemoryOnly) {
    TestRam ram(64 * kMiB);
    load_linux(ram.mem, spec_for(make_bzimage({}), 64 * kMiB));
    std::vector<E820Entry> want = {
        {0, 0x9FC00, 1},
        {0x9FC00, 0x100000 - 0x9FC00, 2},
        {0x100000, 64 * kMiB - 0x100000, 1},
        {0xE0000000, 0x100000, 2},  // ECAM, bus 0
    };
    EXPECT_EQ(read_e820(ram), want);
}

TEST(BootLinux, E820WithHighMemory) {
    TestRam ram(64 * kMiB, 8 * kMiB);
    load_linux(ram.mem, spec_for(make_bzimage({}), 64 * kMiB, 8 * kMiB));
    auto got = read_e820(ram);
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got[4], (E820Entry{0x100000000ull, 8 * kMiB, 1}));
    EXPECT_EQ(got[3], (E820Entry{layout::kEcamBase, layout::kEcamSize, 2}));
}

TEST(BootLinux, InitrdPlacedHighAndPageAligned) {
    TestRam ram(64 * kMiB);
    auto spec = spec_for(make_bzimage({}), 64 * kMiB);
    spec.initrd.resize(5000);
    for (size_t i = 0; i < spec.initrd.size(); ++i) spec.initrd[i] = uint8_t(i ^ 0x5A);
    load_linux(ram.mem, spec);
    uint64_t addr = ram.get<uint32_t>(zp(0x218)) | uint64_t(ram.get<uint32_t>(zp(0x0C0))) << 32;
    uint64_t size = ram.get<uint32_t>(zp(0x21C)) | uint64_t(ram.get<uint32_t>(zp(0x0C4))) << 32;
    EXPECT_EQ(size, 5000u);
    EXPECT_EQ(addr, (64 * kMiB - 5000) & ~0xFFFull);
    EXPECT_EQ(addr % 4096, 0u);
    EXPECT_LE(addr + size, 64 * kMiB);
    EXPECT_EQ(ram.bytes(addr, size), spec.initrd);
}

TEST(BootLinux, InitrdRespectsInitrdAddrMax) {
    TestRam ram(64 * kMiB);
    FakeBz f;
    f.initrd_addr_max = 0x2FFFFFF;  // highest byte below 48 MiB
    auto spec = spec_for(make_bzimage(f), 64 * kMiB);
    spec.initrd.assign(0x1800, 0xCC);
    load_linux(ram.mem, spec);
    EXPECT_EQ(ram.get<uint32_t>(zp(0x218)), 0x3000000u - 0x2000u);
}

TEST(BootLinux, InitrdThatDoesNotFitIsRejected) {
    auto spec = spec_for(make_bzimage({}), 32 * kMiB);
    spec.initrd.assign(9 * kMiB, 1);  // kernel needs up to 24 MiB; 24 + 9 > 32
    EXPECT_EQ(load_error(spec, 32 * kMiB),
              "guest memory too small: the kernel and initrd need 33 MiB, the VM has 32 MiB");
    FakeBz f;
    f.initrd_addr_max = 0x1FFFFFF;  // 32 MiB limit, 8 MiB of room above the kernel
    spec = spec_for(make_bzimage(f), 64 * kMiB);
    spec.initrd.assign(9 * kMiB, 1);
    EXPECT_TRUE(contains(load_error(spec), "initrd of 9 MiB does not fit")) << load_error(spec);
}

TEST(BootLinux, IdentityPageTablesWith2MiBPages) {
    TestRam ram(64 * kMiB);
    BootState st = load_linux(ram.mem, spec_for(make_bzimage({}), 64 * kMiB));
    EXPECT_EQ(st.cr3, 0x9000u);
    EXPECT_EQ(ram.get<uint64_t>(0x9000), 0xA000u | 0x3);
    for (unsigned i = 1; i < 512; ++i) ASSERT_EQ(ram.get<uint64_t>(0x9000 + 8 * i), 0u);
    for (unsigned i = 0; i < 4; ++i) EXPECT_EQ(ram.get<uint64_t>(0xA000 + 8 * i), (0xB000u + 0x1000u * i) | 0x3);
    for (unsigned i = 4; i < 512; ++i) ASSERT_EQ(ram.get<uint64_t>(0xA000 + 8 * i), 0u);
    // Walk every 2 MiB page of 0-4 GiB: identity, present, writable, PS.
    for (uint64_t va = 0; va < (4ull << 30); va += 2 * kMiB) {
        uint64_t pml4e = ram.get<uint64_t>(st.cr3 + ((va >> 39) & 511) * 8);
        uint64_t pdpte = ram.get<uint64_t>((pml4e & ~0xFFFull) + ((va >> 30) & 511) * 8);
        uint64_t pde = ram.get<uint64_t>((pdpte & ~0xFFFull) + ((va >> 21) & 511) * 8);
        ASSERT_EQ(pde & 0x83, 0x83u) << va;
        ASSERT_EQ(pde & ~0x1FFFFFull, va) << va;
    }
}

TEST(BootLinux, GdtAndSegments) {
    TestRam ram(64 * kMiB);
    BootState st = load_linux(ram.mem, spec_for(make_bzimage({}), 64 * kMiB));
    EXPECT_EQ(st.gdt_base, 0x500u);
    EXPECT_EQ(st.gdt_limit, 31);
    EXPECT_EQ(st.code_selector, 0x10);
    EXPECT_EQ(st.data_selector, 0x18);
    EXPECT_EQ(ram.get<uint64_t>(0x500), 0u);
    EXPECT_EQ(ram.get<uint64_t>(0x508), 0u);
    auto code = boot::decode_segment(ram.get<uint64_t>(0x510), 0x10);
    auto data = boot::decode_segment(ram.get<uint64_t>(0x518), 0x18);
    EXPECT_EQ(code, (boot::SegmentSetup{0, 0xFFFFFFFF, 0x10, 0xB, 1, 0, 0, 1, 1, 1, 0}));
    EXPECT_EQ(data, (boot::SegmentSetup{0, 0xFFFFFFFF, 0x18, 0x3, 1, 0, 1, 1, 0, 1, 0}));
    auto segs = boot::boot_segments(st);
    EXPECT_EQ(segs.code, code);
    EXPECT_EQ(segs.data, data);
    BootState foreign = st;
    foreign.code_selector = 0x08;
    EXPECT_THROW(boot::boot_segments(foreign), Error);
}

TEST(BootLinux, LongModeRegisters) {
    TestRam ram(64 * kMiB);
    BootState st = load_linux(ram.mem, spec_for(make_bzimage({}), 64 * kMiB));
    EXPECT_EQ(st.cr0, 0x80010033u);  // PG WP NE ET MP PE
    EXPECT_EQ(st.cr4, 0x20u);        // PAE
    EXPECT_EQ(st.efer, 0x500u);      // LMA LME
    EXPECT_EQ(st.rsp, 0x8FF0u);
}

TEST(BootLinux, SetupSectsZeroMeansFour) {
    TestRam ram(64 * kMiB);
    FakeBz f;
    f.setup_sects = 0;
    auto image = make_bzimage(f);
    load_linux(ram.mem, spec_for(image, 64 * kMiB));
    EXPECT_EQ(ram.bytes(0x100000, 16), std::vector<uint8_t>(image.begin() + 5 * 512, image.begin() + 5 * 512 + 16));
}

TEST(BootLinux, RejectsGarbage) {
    std::vector<uint8_t> junk(4096);
    for (size_t i = 0; i < junk.size(); ++i) junk[i] = uint8_t(i * 31 + 1);
    EXPECT_EQ(load_error(spec_for(junk, 64 * kMiB)), "kernel: not a Linux bzImage or 64-bit ELF vmlinux");
    EXPECT_EQ(load_error(spec_for({}, 64 * kMiB)), "kernel: not a Linux bzImage or 64-bit ELF vmlinux");
    EXPECT_EQ(load_error(spec_for({0x7F, 'E', 'L'}, 64 * kMiB)), "kernel: not a Linux bzImage or 64-bit ELF vmlinux");
}

TEST(BootLinux, RejectsTruncatedImages) {
    auto image = make_bzimage({});
    for (size_t cut : {0x203u, 0x208u, 0x240u, 0x26Bu}) {
        std::vector<uint8_t> t(image.begin(), image.begin() + cut);
        auto err = load_error(spec_for(t, 64 * kMiB));
        EXPECT_TRUE(contains(err, "kernel: ")) << cut << ": " << err;
        EXPECT_TRUE(contains(err, "truncated") || contains(err, "not a Linux")) << cut << ": " << err;
    }
    std::vector<uint8_t> setup_only(image.begin(), image.begin() + 5 * 512);
    EXPECT_TRUE(contains(load_error(spec_for(setup_only, 64 * kMiB)), "kernel: truncated bzImage (the setup code"));
    std::vector<uint8_t> short_payload(image.begin(), image.end() - 16);
    EXPECT_TRUE(contains(load_error(spec_for(short_payload, 64 * kMiB)), "protected-mode kernel is 12288 bytes"));
}

TEST(BootLinux, RejectsHugeSetupSects) {
    FakeBz f;
    auto image = make_bzimage(f);
    image[0x1F1] = 255;  // claims 128 KiB of setup in a 14 KiB file
    EXPECT_EQ(load_error(spec_for(image, 64 * kMiB)),
              "kernel: truncated bzImage (the setup code is 131072 bytes, the file is 14848)");
}

TEST(BootLinux, RejectsOldProtocol) {
    FakeBz f;
    f.version = 0x0206;
    EXPECT_EQ(load_error(spec_for(make_bzimage(f), 64 * kMiB)),
              "kernel: boot protocol 2.06 is too old (the 64-bit entry needs 2.12 or later)");
    f.version = 0x020B;
    EXPECT_TRUE(contains(load_error(spec_for(make_bzimage(f), 64 * kMiB)), "2.11 is too old"));
}

TEST(BootLinux, RejectsKernelWithout64BitEntry) {
    FakeBz f;
    f.xloadflags = 0x02;
    EXPECT_TRUE(contains(load_error(spec_for(make_bzimage(f), 64 * kMiB)), "no 64-bit entry point"));
}

TEST(BootLinux, RejectsZImage) {
    FakeBz f;
    f.loadflags = 0;
    EXPECT_TRUE(contains(load_error(spec_for(make_bzimage(f), 64 * kMiB)), "zImage"));
}

TEST(BootLinux, RejectsTooLittleMemory) {
    EXPECT_EQ(load_error(spec_for(make_bzimage({}), 16 * kMiB), 16 * kMiB),
              "guest memory too small: the kernel needs 24 MiB, the VM has 16 MiB");
    FakeBz f;
    f.init_size = 0xFFFFFFFF;
    EXPECT_TRUE(contains(load_error(spec_for(make_bzimage(f), 64 * kMiB)), "the kernel needs 4112 MiB"));
    f = {};
    f.pref_address = ~0ull - 0x1000;  // hostile: must saturate, not wrap
    EXPECT_TRUE(contains(load_error(spec_for(make_bzimage(f), 64 * kMiB)), "guest memory too small"));
    f = {};
    f.relocatable = 0;
    f.pref_address = 0x2000;  // would overwrite the boot area
    EXPECT_TRUE(contains(load_error(spec_for(make_bzimage(f), 64 * kMiB)), "below 1 MiB"));
    f = {};
    f.kernel_alignment = 0x300000;
    EXPECT_TRUE(contains(load_error(spec_for(make_bzimage(f), 64 * kMiB)), "not a power of two"));
}

TEST(BootLinux, RejectsMemoryNotMatchingSpec) {
    auto spec = spec_for(make_bzimage({}), 64 * kMiB);
    EXPECT_TRUE(contains(load_error(spec, 32 * kMiB), "does not hold RAM"));
    spec.highmem = kMiB;  // no region at 4 GiB
    EXPECT_TRUE(contains(load_error(spec), "does not hold RAM [4 GiB"));
    spec = spec_for(make_bzimage({}), layout::kLowMemLimit + kMiB);
    EXPECT_TRUE(contains(load_error(spec), "exceeds the 3 GiB limit"));
}

TEST(BootLinux, CommandLineLimit) {
    FakeBz f;
    f.cmdline_size = 100;
    auto spec = spec_for(make_bzimage(f), 64 * kMiB);
    spec.cmdline.assign(100, 'x');
    EXPECT_EQ(load_error(spec), "(no error)");
    spec.cmdline.assign(101, 'x');
    EXPECT_EQ(load_error(spec), "kernel command line is 101 bytes, the kernel accepts at most 100");
    spec.cmdline = std::string("a\0b", 3);
    EXPECT_TRUE(contains(load_error(spec), "NUL"));
    // A header claiming more than our 64 KiB area is held to the area.
    f.cmdline_size = 0xFFFFFFFF;
    spec = spec_for(make_bzimage(f), 64 * kMiB);
    spec.cmdline.assign(layout::kCmdlineMax, 'y');
    EXPECT_TRUE(contains(load_error(spec), "at most 65535"));
}

// ---- ELF vmlinux -------------------------------------------------------

struct FakeSeg {
    uint32_t type = 1;
    uint64_t offset, vaddr, paddr, filesz, memsz;
};

std::vector<uint8_t> make_elf(uint64_t entry, std::vector<FakeSeg> segs, size_t file_size = 0x3000,
                              uint8_t cls = 2) {
    std::vector<uint8_t> b(file_size, 0);
    b[0] = 0x7F; b[1] = 'E'; b[2] = 'L'; b[3] = 'F';
    b[4] = cls; b[5] = 1; b[6] = 1;
    put<uint16_t>(b, 16, 2);
    put<uint16_t>(b, 18, 62);
    put<uint64_t>(b, 24, entry);
    put<uint64_t>(b, 32, 64);
    put<uint16_t>(b, 54, 56);
    put<uint16_t>(b, 56, uint16_t(segs.size()));
    for (size_t i = 0; i < segs.size(); ++i) {
        size_t p = 64 + i * 56;
        put<uint32_t>(b, p, segs[i].type);
        put<uint64_t>(b, p + 8, segs[i].offset);
        put<uint64_t>(b, p + 16, segs[i].vaddr);
        put<uint64_t>(b, p + 24, segs[i].paddr);
        put<uint64_t>(b, p + 32, segs[i].filesz);
        put<uint64_t>(b, p + 40, segs[i].memsz);
    }
    for (size_t i = 0x1000; i < b.size(); ++i) b[i] = uint8_t(i);
    return b;
}

constexpr uint64_t kVirt = 0xFFFFFFFF81000000ull;

std::vector<FakeSeg> vmlinux_segs() {
    return {{1, 0x1000, kVirt, 0x1000000, 0x1000, 0x1000},
            {4, 0, 0, 0, 0x10, 0x10},  // PT_NOTE: ignored
            {1, 0x2000, kVirt + 0x200000, 0x1200000, 0x800, 0x4000}};
}

TEST(BootLinuxElf, LoadsSegmentsAtPhysicalAddresses) {
    TestRam ram(64 * kMiB);
    std::memset(ram.low.data() + 0x1200000, 0xAA, 0x4000);  // stale bytes where the bss goes
    auto image = make_elf(0x1000000, vmlinux_segs());
    auto spec = spec_for(image, 64 * kMiB);
    spec.initrd.assign(100, 7);
    BootState st = load_linux(ram.mem, spec);
    EXPECT_EQ(st.rip, 0x1000000u);
    EXPECT_EQ(st.rsi, layout::kZeroPage);
    EXPECT_EQ(ram.bytes(0x1000000, 0x1000), std::vector<uint8_t>(image.begin() + 0x1000, image.begin() + 0x2000));
    EXPECT_EQ(ram.bytes(0x1200000, 0x800), std::vector<uint8_t>(image.begin() + 0x2000, image.begin() + 0x2800));
    EXPECT_EQ(ram.bytes(0x1200800, 0x3800), std::vector<uint8_t>(0x3800, 0));
    // Synthesized setup header.
    EXPECT_EQ(ram.get<uint16_t>(zp(0x1FE)), 0xAA55);
    EXPECT_EQ(ram.get<uint32_t>(zp(0x202)), 0x53726448u);
    EXPECT_EQ(ram.get<uint16_t>(zp(0x206)), boot::kElfProtocolVersion);
    EXPECT_EQ(ram.get<uint8_t>(zp(0x210)), 0xFF);
    EXPECT_EQ(ram.get<uint32_t>(zp(0x228)), layout::kCmdline);
    EXPECT_EQ(ram.get<uint32_t>(zp(0x238)), boot::kElfCmdlineMax);
    EXPECT_EQ(ram.get<uint32_t>(zp(0x21C)), 100u);
    EXPECT_EQ(ram.get<uint32_t>(zp(0x218)), (64 * kMiB - 100) & ~0xFFFull);
    EXPECT_EQ(ram.get<uint8_t>(zp(0x1E8)), 4);
}

TEST(BootLinuxElf, VirtualEntryIsTranslated) {
    TestRam ram(64 * kMiB);
    BootState st = load_linux(ram.mem, spec_for(make_elf(kVirt + 0x200010, vmlinux_segs()), 64 * kMiB));
    EXPECT_EQ(st.rip, 0x1200010u);
}

TEST(BootLinuxElf, RejectsHostileHeaders) {
    auto err = [](std::vector<uint8_t> img) { return load_error(spec_for(std::move(img), 64 * kMiB)); };
    EXPECT_EQ(err(make_elf(0x1000000, vmlinux_segs(), 0x3000, 1)), "kernel: not a Linux bzImage or 64-bit ELF vmlinux");

    auto img = make_elf(0x1000000, vmlinux_segs());
    put<uint64_t>(img, 32, 0x2FF0);  // program headers run off the end
    EXPECT_EQ(err(img), "kernel: ELF program headers lie outside the file");
    img = make_elf(0x1000000, vmlinux_segs());
    put<uint64_t>(img, 32, ~0ull - 8);
    EXPECT_EQ(err(img), "kernel: ELF program headers lie outside the file");

    auto segs = vmlinux_segs();
    segs[0].offset = ~0ull - 0x100;  // offset + filesz overflows
    EXPECT_TRUE(contains(err(make_elf(0x1200000, segs)), "lies outside the file"));
    segs = vmlinux_segs();
    segs[2].filesz = 0x1001;  // runs past the end of a 0x3000-byte file
    EXPECT_TRUE(contains(err(make_elf(0x1000000, segs)), "lies outside the file"));
    segs = vmlinux_segs();
    segs[0].memsz = 0x10;
    EXPECT_TRUE(contains(err(make_elf(0x1200000, segs)), "more file bytes than memory bytes"));
    segs = vmlinux_segs();
    segs[2].paddr = ~0ull - 0x100;
    EXPECT_TRUE(contains(err(make_elf(0x1000000, segs)), "wraps"));
    EXPECT_TRUE(contains(err(make_elf(0x5000000, vmlinux_segs())), "entry point 0x5000000 is in no loadable segment"));
    segs = vmlinux_segs();
    segs[0].paddr = 0x9000;  // would overwrite the page tables
    EXPECT_TRUE(contains(err(make_elf(0x1200000, segs)), "below 1 MiB"));
    segs = vmlinux_segs();
    segs[2].paddr = 0x3FFF000;  // ends past 64 MiB
    EXPECT_EQ(err(make_elf(0x1000000, segs)), "guest memory too small: the kernel needs 65 MiB, the VM has 64 MiB");
    segs = vmlinux_segs();
    segs[1].type = 2;
    segs[0].type = 2;
    segs[2].type = 2;
    EXPECT_EQ(err(make_elf(0x1000000, segs)), "kernel: ELF file has no loadable segments");
}

// ---- A real Debian kernel, when the environment names one ---------------

TEST(BootLinuxReal, LoadsRealVmlinuz) {
    const char* path = std::getenv("KHYVE_TEST_VMLINUZ");
    if (!path || !*path) GTEST_SKIP() << "set KHYVE_TEST_VMLINUZ to a bzImage to run";
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path;
    std::vector<uint8_t> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(image.size(), 0x1000u);

    TestRam ram(256 * kMiB);
    auto spec = spec_for(image, 256 * kMiB);
    spec.initrd.assign(3 * kMiB, 0x42);
    BootState st = load_linux(ram.mem, spec);
    EXPECT_EQ(st.rip, 0x100200u);
    EXPECT_EQ(st.rsi, layout::kZeroPage);
    EXPECT_EQ(ram.get<uint32_t>(zp(0x202)), 0x53726448u);
    EXPECT_GE(ram.get<uint16_t>(zp(0x206)), 0x020C);
    EXPECT_TRUE(ram.get<uint16_t>(zp(0x236)) & 1);
    EXPECT_EQ(ram.get<uint8_t>(zp(0x210)), 0xFF);
    EXPECT_EQ(ram.get<uint8_t>(zp(0x211)) & 0x81, 0x81);
    EXPECT_EQ(ram.get<uint8_t>(zp(0x1EF)), 0);
    EXPECT_EQ(ram.get<uint8_t>(zp(0x1E8)), 4);
    unsigned sects = image[0x1F1] ? image[0x1F1] : 4;
    size_t setup = (sects + 1) * 512;
    EXPECT_EQ(ram.bytes(0x100000, 4096), std::vector<uint8_t>(image.begin() + setup, image.begin() + setup + 4096));
    uint64_t initrd = ram.get<uint32_t>(zp(0x218));
    EXPECT_EQ(initrd, 253 * kMiB);
    uint64_t need = ram.get<uint64_t>(zp(0x258)) + ram.get<uint32_t>(zp(0x260));  // pref_address + init_size
    EXPECT_GE(initrd, need);

    // The same kernel does not fit in 48 MiB: it decompresses at 16 MiB and needs init_size from there.
    EXPECT_TRUE(contains(load_error(spec_for(image, 48 * kMiB), 48 * kMiB), "guest memory too small: the kernel needs"));
}

// ---- BootState text format ----------------------------------------------

TEST(BootState, RoundTrip) {
    BootState s;
    s.rip = 0x100200; s.rsi = 0x7000; s.rsp = 0x8ff0;
    s.cr0 = 0x80010033; s.cr3 = 0x9000; s.cr4 = 0x20; s.efer = 0x500;
    s.gdt_base = 0xFFFFFFFFFFFFFFFFull; s.gdt_limit = 0xFFFF;
    s.code_selector = 0x10; s.data_selector = 0x18;
    std::string text = s.serialize();
    EXPECT_TRUE(contains(text, "rip=0x100200\n"));
    EXPECT_TRUE(contains(text, "gdt_base=0xffffffffffffffff\n"));
    EXPECT_EQ(BootState::parse(text), s);
    EXPECT_EQ(BootState::parse("# saved by bhyveload\n\n" + text), s);
    EXPECT_EQ(BootState::parse(BootState{}.serialize()), BootState{});
}

TEST(BootState, ParseErrorsNameTheLine) {
    std::string good = BootState{}.serialize();
    auto err = [](const std::string& t) {
        try {
            BootState::parse(t);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    EXPECT_EQ(err("rip 0x1\n" + good), "boot state line 1 \"rip 0x1\": expected key=value");
    EXPECT_EQ(err(good + "bogus=0x1\n"), "boot state line 12 \"bogus=0x1\": unknown key");
    EXPECT_EQ(err(good + "rip=0x2\n"), "boot state line 12 \"rip=0x2\": duplicate key");
    EXPECT_TRUE(contains(err("rip=12\n"), "line 1 \"rip=12\": value is not"));
    EXPECT_TRUE(contains(err("rip=0x\n"), "value is not"));
    EXPECT_TRUE(contains(err("rip=0x1g\n"), "value is not"));
    EXPECT_TRUE(contains(err("rip=0x10000000000000000\n"), "value is not"));
    EXPECT_TRUE(contains(err("gdt_limit=0x10000\n"), "does not fit in 16 bits"));
    EXPECT_EQ(err("rip=0x1\n"), "boot state: missing key \"rsi\"");
    EXPECT_EQ(err(""), "boot state: missing key \"rip\"");
}

}  // namespace
}  // namespace khyve
