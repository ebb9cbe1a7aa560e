#include "emulation_test_util.h"
#include "virtio/virtio_console.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "memory/guest_memory.h"
#include "virtio/queue.h"
#include "virtio_fake_driver.h"

namespace khyve {
namespace {

using namespace virtio_console;

using namespace test;


std::pair<Fd, Fd> socket_pair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) throw sys_error("socketpair");
    return {Fd(sv[0]), Fd(sv[1])};
}

struct ConsoleHarness {
    FakeRings rings{2};
    FakeInterrupt irq;
    FakeWorker worker;
    std::unique_ptr<VirtioConsole> dev;
    Fd host_in, host_out;  // host ends: write input here, read output there

    ConsoleHarness() {
        auto [a, b] = socket_pair();
        auto [c, d] = socket_pair();
        host_in = std::move(a);
        host_out = std::move(d);
        dev = std::make_unique<VirtioConsole>(std::move(b), std::move(c));
        activate();
    }
    explicit ConsoleHarness(std::unique_ptr<VirtioConsole> d) : dev(std::move(d)) { activate(); }
    void activate() {
        VirtioActivation a{&rings.mem, virtio::kFVersion1 | kFEmergWrite, rings.queues, &irq, &worker};
        EXPECT_TRUE(dev->activate(a));
    }
    void guest_write(const std::string& s) {
        uint64_t g = rings.alloc(s.size());
        std::memcpy(rings.host(g), s.data(), s.size());
        rings.push(1, {{g, uint32_t(s.size()), false}});
        dev->queue_notify(1);
    }
    uint64_t guest_rx_buffer(uint32_t len) {
        uint64_t g = rings.alloc(len);
        rings.push(0, {{g, len, true}});
        dev->queue_notify(0);
        return g;
    }
    std::string host_read(int fd) {
        char b[4096];
        ssize_t n = ::read(fd, b, sizeof b);
        return n > 0 ? std::string(b, size_t(n)) : std::string();
    }
};

TEST(VirtioConsole, GuestOutputReachesHost) {
    ConsoleHarness h;
    h.guest_write("hello, ");
    h.guest_write("world\n");
    EXPECT_EQ(h.host_read(h.host_out.get()), "hello, world\n");
    EXPECT_TRUE(h.rings.used(1));
    EXPECT_TRUE(h.rings.used(1));
    EXPECT_GT(h.irq.used, 0);
}

TEST(VirtioConsole, HostInputReachesGuest) {
    ConsoleHarness h;
    uint64_t g = h.guest_rx_buffer(64);
    ASSERT_EQ(h.worker.fds.size(), 1u);
    ASSERT_EQ(::write(h.host_in.get(), "ls\n", 3), 3);
    h.worker.fds.begin()->second();
    auto u = h.rings.used(0);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->len, 3u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(h.rings.host(g)), 3), "ls\n");
}

TEST(VirtioConsole, NoReceiveBuffersStopsWatchingInput) {
    ConsoleHarness h;
    uint64_t g = h.guest_rx_buffer(4);
    ASSERT_EQ(::write(h.host_in.get(), "abcdefgh", 8), 8);
    h.worker.fds.begin()->second();
    EXPECT_EQ(h.rings.used(0)->len, 4u);
    EXPECT_TRUE(h.worker.fds.empty());  // the rest waits in the socket, not in our memory
    g = h.guest_rx_buffer(16);
    ASSERT_EQ(h.worker.fds.size(), 1u);
    h.worker.fds.begin()->second();
    auto u = h.rings.used(0);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->len, 4u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(h.rings.host(g)), 4), "efgh");
}

TEST(VirtioConsole, StalledReaderBoundsOutput) {
    ConsoleHarness h;
    // Nobody reads host_out: its socket buffer fills, then ours (64 KiB).
    std::string big(48 * 1024, 'x');
    for (int i = 0; i < 8; i++) h.guest_write(big);
    for (int i = 0; i < 8; i++) EXPECT_TRUE(h.rings.used(1)) << i;  // never stalls the guest
    EXPECT_LE(h.dev->output_pending(), kOutputLimit);
    EXPECT_GT(h.dev->output_dropped(), 0u);
    // Once the reader drains, pending output goes out first.
    std::string got;
    for (int i = 0; i < 1000; i++) {
        std::string s = h.host_read(h.host_out.get());
        if (s.empty()) break;
        got += s;
    }
    h.guest_write("END");
    for (int i = 0; i < 1000; i++) {
        std::string s = h.host_read(h.host_out.get());
        if (s.empty()) break;
        got += s;
    }
    EXPECT_EQ(got.substr(got.size() - 3), "END");
    EXPECT_EQ(got.size() + h.dev->output_dropped() + h.dev->output_pending(), 8 * big.size() + 3);
}

TEST(VirtioConsole, EmergencyWrite) {
    ConsoleHarness h;
    uint32_t c = 'Z';
    h.dev->write_config(kCfgEmergWr, {reinterpret_cast<uint8_t*>(&c), 4});
    EXPECT_EQ(h.host_read(h.host_out.get()), "Z");
    uint32_t ports = 0;
    h.dev->read_config(kCfgMaxPorts, {reinterpret_cast<uint8_t*>(&ports), 4});
    EXPECT_EQ(ports, 1u);
}

TEST(VirtioConsole, SocketIsOwnerOnlyWhateverTheUmask) {
    std::string path = "/tmp/khyve-vcon-mode-" + std::to_string(::getpid());
    mode_t old = ::umask(0);
    auto c = VirtioConsole::listen(path);
    ::umask(old);
    struct stat st{};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    c.reset();
    ::unlink(path.c_str());
}

TEST(VirtioConsole, UnixSocketClientsComeAndGo) {
    std::string path = "/tmp/khyve_con_" + std::to_string(::getpid());
    ConsoleHarness h(VirtioConsole::listen(path));
    ASSERT_EQ(h.worker.fds.size(), 1u);  // the listening socket
    int listen_fd = h.worker.fds.begin()->first;
    h.guest_rx_buffer(64);
    h.guest_write("lost\n");  // nobody connected: discarded, not buffered
    EXPECT_EQ(h.dev->output_pending(), 0u);

    auto connect_client = [&] {
        Fd c(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path, path.data(), path.size());
        EXPECT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
        h.worker.fds.at(listen_fd)();
        return c;
    };
    Fd c = connect_client();
    ASSERT_EQ(h.worker.fds.size(), 2u);
    ASSERT_EQ(::write(c.get(), "hi", 2), 2);
    for (auto& [fd, cb] : h.worker.fds)
        if (fd != listen_fd) {
            cb();
            break;
        }
    auto u = h.rings.used(0);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->len, 2u);
    h.guest_write("out\n");
    EXPECT_EQ(h.host_read(c.get()), "out\n");

    c.reset();  // client leaves
    h.guest_rx_buffer(64);
    for (auto& [fd, cb] : h.worker.fds)
        if (fd != listen_fd) {
            cb();
            break;
        }
    EXPECT_EQ(h.worker.fds.size(), 1u);
    Fd c2 = connect_client();
    h.guest_write("again\n");
    EXPECT_EQ(h.host_read(c2.get()), "again\n");
    h.dev.reset();
    EXPECT_NE(::access(path.c_str(), F_OK), 0);  // socket file removed
}

TEST(VirtioConsoleFactory, Options) {
    EXPECT_THROW(test::make_emulated<VirtioConsole>("virtio-console", {}), Error);
    EXPECT_THROW(test::make_emulated<VirtioConsole>("virtio-console", {{"port1", "stdio"}, {"bogus", "1"}}), Error);
    char tmpl[] = "/tmp/khyve_notsock_XXXXXX";
    int fd = ::mkstemp(tmpl);
    ::close(fd);
    EXPECT_THROW(test::make_emulated<VirtioConsole>("virtio-console", {{"port1", tmpl}}), Error);  // a regular file is never replaced
    EXPECT_EQ(::access(tmpl, F_OK), 0);
    ::unlink(tmpl);
    auto d = test::make_emulated<VirtioConsole>("virtio-console", {{"port1", "stdio"}});
    EXPECT_EQ(d->device_type(), virtio::kTypeConsole);
}

}  // namespace
}  // namespace khyve
