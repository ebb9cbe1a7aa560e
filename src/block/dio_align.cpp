#include <fcntl.h>
#include <linux/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace khyve {

bool query_dio_align(int fd, uint32_t* mem_align, uint32_t* offset_align) {
    struct statx st{};
    if (::syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &st) != 0) return false;
    if (!(st.stx_mask & STATX_DIOALIGN)) return false;
    *mem_align = st.stx_dio_mem_align;
    *offset_align = st.stx_dio_offset_align;
    return true;
}

}  // namespace khyve
