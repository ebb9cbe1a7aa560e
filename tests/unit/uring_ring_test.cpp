#include "block/uring_ring.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace khyve {
namespace {

struct Ring {
    io_uring ring{};
    int rc = 0;
    explicit Ring(int eventfd = -1) { rc = setup_block_ring(&ring, 8, eventfd); }
    ~Ring() {
        if (rc == 0) io_uring_queue_exit(&ring);
    }
    // Submits the prepared SQE and returns its CQE's result.
    int run() {
        if (io_uring_submit_and_wait(&ring, 1) < 0) return INT32_MIN;
        io_uring_cqe* cqe = nullptr;
        if (io_uring_wait_cqe(&ring, &cqe) < 0) return INT32_MIN;
        int res = cqe->res;
        io_uring_cqe_seen(&ring, cqe);
        return res;
    }
};

#define RING_OR_SKIP(r, ...)                                                      \
    Ring r{__VA_ARGS__};                                                          \
    if (r.rc == -ENOSYS || r.rc == -EPERM || r.rc == -EINVAL)                     \
        GTEST_SKIP() << "no restricted io_uring here: " << std::strerror(-r.rc); \
    ASSERT_EQ(r.rc, 0)

TEST(UringRing, BlockOperationsWork) {
    char path[] = "/tmp/khyve_ring_XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::unlink(path);
    ASSERT_EQ(::write(fd, "restricted", 10), 10);
    RING_OR_SKIP(r);
    char buf[10] = {};
    iovec v{buf, sizeof buf};
    io_uring_prep_readv(io_uring_get_sqe(&r.ring), fd, &v, 1, 0);
    EXPECT_EQ(r.run(), 10);
    EXPECT_EQ(std::memcmp(buf, "restricted", 10), 0);
    io_uring_prep_writev(io_uring_get_sqe(&r.ring), fd, &v, 1, 10);
    EXPECT_EQ(r.run(), 10);
    io_uring_prep_fsync(io_uring_get_sqe(&r.ring), fd, IORING_FSYNC_DATASYNC);
    EXPECT_EQ(r.run(), 0);
    io_uring_prep_fallocate(io_uring_get_sqe(&r.ring), fd, 0, 0, 4096);
    EXPECT_EQ(r.run(), 0);
    io_uring_prep_nop(io_uring_get_sqe(&r.ring));
    EXPECT_EQ(r.run(), 0);
    ::close(fd);
}

// What a compromised device thread might try through the ring instead of
// the system calls its seccomp filter refuses.
TEST(UringRing, EverythingElseIsRefused) {
    RING_OR_SKIP(r);
    io_uring_prep_openat(io_uring_get_sqe(&r.ring), AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
    EXPECT_EQ(r.run(), -EACCES);
    io_uring_prep_socket(io_uring_get_sqe(&r.ring), AF_INET, SOCK_STREAM, 0, 0);
    EXPECT_EQ(r.run(), -EACCES);
    // An allowed operation with an SQE flag (a linked chain) is refused too.
    io_uring_sqe* sqe = io_uring_get_sqe(&r.ring);
    io_uring_prep_nop(sqe);
    sqe->flags |= IOSQE_IO_LINK;
    EXPECT_EQ(r.run(), -EACCES);
    // And no io_uring_register operation once the ring runs.
    int efd = ::eventfd(0, EFD_CLOEXEC);
    EXPECT_EQ(io_uring_register_eventfd(&r.ring, efd), -EACCES);
    ::close(efd);
}

TEST(UringRing, EventfdIsSignalledPerCompletion) {
    int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ASSERT_GE(efd, 0);
    {
        RING_OR_SKIP(r, efd);
        io_uring_prep_nop(io_uring_get_sqe(&r.ring));
        EXPECT_EQ(r.run(), 0);
        uint64_t n = 0;
        EXPECT_EQ(::read(efd, &n, sizeof n), ssize_t(sizeof n));
        EXPECT_EQ(n, 1u);
    }
    ::close(efd);
}

}  // namespace
}  // namespace khyve
