#include "block/uring_ring.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <iterator>

namespace khyve {

namespace {
// Debian's liburing 2.3 has io_uring_register_restrictions() and
// io_uring_enable_rings() in its static library but does not export them
// from the shared one: the two registrations are made directly.
int ring_register(io_uring* ring, unsigned op, const void* arg, unsigned nargs) {
    long r = ::syscall(__NR_io_uring_register, ring->ring_fd, op, arg, nargs);
    return r < 0 ? -errno : 0;
}
}  // namespace

int setup_block_ring(io_uring* ring, unsigned entries, int eventfd) {
    io_uring_params params{};
    params.flags = IORING_SETUP_R_DISABLED;
    int r = io_uring_queue_init_params(entries, ring, &params);
    if (r < 0) return r;
    static constexpr io_uring_op kAllowed[] = {IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
                                               IORING_OP_FALLOCATE, IORING_OP_NOP};
    io_uring_restriction res[std::size(kAllowed)]{};
    for (size_t i = 0; i < std::size(kAllowed); ++i) {
        res[i].opcode = IORING_RESTRICTION_SQE_OP;
        res[i].sqe_op = static_cast<__u8>(kAllowed[i]);
    }
    if (eventfd >= 0) r = io_uring_register_eventfd(ring, eventfd);
    if (r >= 0) r = ring_register(ring, IORING_REGISTER_RESTRICTIONS, res, std::size(res));
    if (r >= 0) r = ring_register(ring, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
    if (r < 0) {
        io_uring_queue_exit(ring);
        return r;
    }
    return 0;
}

}  // namespace khyve
