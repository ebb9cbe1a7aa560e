// MBR/GPT parsing (bhyveload -d) on hostile disk images. The image is a
// sparse memfd whose size the input chooses (up to 64 MiB), with input bytes
// at its start and its end (where the backup GPT lives). The GPT CRCs can be
// made valid by the harness, or the fuzzer would never get past them.
// Every partition read_partition_table returns must lie inside the disk;
// anything wrong must be a khyve::Error.
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "diskboot/crc32.h"
#include "diskboot/image_file.h"
#include "diskboot/partition_table.h"

using namespace khyve;
using namespace khyve::diskboot;

namespace {

uint32_t le32(const std::vector<uint8_t>& b, size_t o) {
    uint32_t v;
    std::memcpy(&v, &b[o], 4);
    return v;
}
uint64_t le64(const std::vector<uint8_t>& b, size_t o) {
    uint64_t v;
    std::memcpy(&v, &b[o], 8);
    return v;
}

// Makes the GPT header at LBA 1 (sector size ss) carry correct CRCs, as far
// as the header and its entry array lie inside `head`.
void fix_gpt_crcs(std::vector<uint8_t>& head, size_t ss) {
    const size_t h = ss;
    if (head.size() < h + 92) return;
    const uint64_t array_lba = le64(head, h + 72);
    const uint32_t count = le32(head, h + 80), esize = le32(head, h + 84);
    const uint64_t bytes = uint64_t(count) * esize;
    if (array_lba < head.size() / ss && bytes <= head.size() - array_lba * ss) {
        const uint32_t c = crc32({head.data() + array_lba * ss, size_t(bytes)});
        std::memcpy(&head[h + 88], &c, 4);
    }
    uint32_t hsize = le32(head, h + 12);
    if (hsize < 92 || hsize > ss || h + hsize > head.size()) return;
    std::memset(&head[h + 16], 0, 4);
    const uint32_t c = crc32({head.data() + h, hsize});
    std::memcpy(&head[h + 16], &c, 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    // One statement per value: the seeds (make_seeds.py) rely on this order.
    const uint64_t sectors = in.ConsumeIntegralInRange<uint32_t>(0, 1u << 17);
    const uint32_t odd_bytes = in.ConsumeIntegralInRange<uint32_t>(0, 511);
    const bool odd = in.ConsumeBool();
    const uint64_t disk_bytes = sectors * 512 + (odd ? odd_bytes : 0);
    const unsigned fix = in.ConsumeIntegralInRange(0, 2);  // 0: as is, 1: 512-byte, 2: 4 KiB sectors
    const size_t tail_len = in.ConsumeIntegralInRange<size_t>(0, 64 * 1024);
    std::vector<uint8_t> tail = in.ConsumeBytes<uint8_t>(tail_len);
    std::vector<uint8_t> head = in.ConsumeRemainingBytes<uint8_t>();
    if (head.size() > disk_bytes) head.resize(disk_bytes);
    if (tail.size() > disk_bytes) tail.resize(disk_bytes);
    if (fix) fix_gpt_crcs(head, fix == 1 ? 512 : 4096);

    static const int fd = ::memfd_create("fuzz-disk", MFD_CLOEXEC);
    if (fd < 0) __builtin_trap();
    if (::ftruncate(fd, 0) != 0 || ::ftruncate(fd, off_t(disk_bytes)) != 0) __builtin_trap();
    // The head wins where the two overlap (small disks).
    if (!tail.empty() && ::pwrite(fd, tail.data(), tail.size(), off_t(disk_bytes - tail.size())) < 0)
        __builtin_trap();
    if (!head.empty() && ::pwrite(fd, head.data(), head.size(), 0) < 0) __builtin_trap();

    try {
        ImageFile img("/proc/self/fd/" + std::to_string(fd));
        if (img.size() != disk_bytes) __builtin_trap();
        const PartitionTable t = read_partition_table(img);
        unsigned last = 0;
        for (const Partition& p : t.partitions) {
            if (!img.contains(p.offset, p.size)) __builtin_trap();  // a partition past the disk
            if (p.number < last) __builtin_trap();                   // promised Linux number order
            last = p.number;
            (void)find_partition(t, p.number, img.path());
        }
        (void)find_partition(t, 5, img.path());
    } catch (const Error&) {
    }
    return 0;
}
