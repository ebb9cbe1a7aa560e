// The io_uring a block backend uses, restricted to the operations it needs.
//
// io_uring operations are not system calls, so the seccomp filters cannot see
// them: a ring that would take IORING_OP_OPENAT or IORING_OP_CONNECT would let
// a compromised device thread around its filter. The ring is created disabled,
// limited to READV, WRITEV, FSYNC, FALLOCATE and NOP (no SQE flags, no
// io_uring_register operation afterwards), then enabled
// (IORING_REGISTER_RESTRICTIONS, Linux 5.10). Any other SQE completes with
// -EACCES.
#pragma once

#include <liburing.h>

namespace khyve {

// Sets up ring with entries slots; eventfd >= 0 is registered to be
// signalled for every CQE. 0, or -errno with nothing left set up.
int setup_block_ring(io_uring* ring, unsigned entries, int eventfd);

}  // namespace khyve
