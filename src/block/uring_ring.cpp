#include "block/uring_ring.h"

#include <iterator>

namespace khyve {

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
    if (r >= 0) r = io_uring_register_restrictions(ring, res, std::size(res));
    if (r >= 0) r = io_uring_enable_rings(ring);
    if (r < 0) {
        io_uring_queue_exit(ring);
        return r;
    }
    return 0;
}

}  // namespace khyve
