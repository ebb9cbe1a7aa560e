#include "net/tap.h"

#include <linux/if_tun.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/error.h"

namespace khyve {
namespace {

TEST(NetTap, RejectsBadNames) {
    EXPECT_THROW(Tap::open(""), Error);
    EXPECT_THROW(Tap::open("a/b"), Error);
    EXPECT_THROW(Tap::open("averyveryverylongname0"), Error);
}

// Needs CAP_NET_ADMIN and /dev/net/tun; skipped elsewhere.
TEST(NetTap, CreatesTapWithVnetHeader) {
    std::string name = "khyvet" + std::to_string(::getpid() % 100000);
    std::unique_ptr<Tap> t;
    try {
        t = Tap::open("/dev/" + name);
    } catch (const Error& e) {
        GTEST_SKIP() << e.what();
    }
    EXPECT_EQ(t->name(), name);
    EXPECT_GE(t->fd(), 0);
    EXPECT_TRUE(t->set_offload(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6));
    EXPECT_TRUE(t->set_offload(0));
    // Nothing to read on a fresh, down interface, and no blocking.
    char buf[64];
    EXPECT_LT(::read(t->fd(), buf, sizeof buf), 0);
}

}  // namespace
}  // namespace khyve
