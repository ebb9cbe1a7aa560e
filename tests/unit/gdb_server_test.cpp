#include "gdb/gdb_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "common/error.h"
#include "gdb/gdb_packet.h"
#include "gdb_test_fake.h"

namespace khyve::gdb {
namespace {

using test::FakeTarget;
using namespace std::chrono_literals;

// A scripted gdb: raw bytes over a real TCP socket on 127.0.0.1.
class Client {
public:
    explicit Client(uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ~Client() { close(); }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    bool connected() const { return connected_; }
    void send_raw(const std::string& s) { ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size())); }
    void send(const std::string& payload) { send_raw(frame(payload)); }
    // Next byte or "" on timeout.
    std::string read_byte(int timeout_ms = 3000) {
        if (!fill(timeout_ms)) return "";
        std::string b(1, buf_[0]);
        buf_.erase(0, 1);
        return b;
    }
    // Next whole "$...#cs" packet's payload (checksum verified), nullopt on timeout.
    std::optional<std::string> read_packet(int timeout_ms = 3000) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            auto start = buf_.find('$');
            auto hash = start == std::string::npos ? start : buf_.find('#', start);
            if (hash != std::string::npos && buf_.size() >= hash + 3) {
                std::string body = buf_.substr(start + 1, hash - start - 1);
                unsigned cs = std::stoul(buf_.substr(hash + 1, 2), nullptr, 16);
                buf_.erase(0, hash + 3);
                EXPECT_EQ(cs, checksum(body));
                std::string out;
                EXPECT_TRUE(unescape_binary(body, out));
                return out;
            }
            int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
            if (left <= 0 || !fill(left)) return std::nullopt;
        }
    }
    // Sends a command, expects '+' and returns the reply.
    std::optional<std::string> command(const std::string& payload) {
        send(payload);
        std::string ack = read_byte();
        EXPECT_EQ(ack, "+") << payload;
        auto r = read_packet();
        if (r) send_raw("+");
        return r;
    }
    bool closed_by_peer(int timeout_ms = 3000) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return false;
        char c;
        return ::recv(fd_, &c, 1, MSG_PEEK) == 0;
    }

private:
    bool fill(int timeout_ms) {
        if (!buf_.empty()) return true;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return false;
        char tmp[4096];
        ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n <= 0) return false;
        buf_.append(tmp, size_t(n));
        return true;
    }
    int fd_ = -1;
    bool connected_ = false;
    std::string buf_;
};

// Waits for a condition set by the server thread.
template <class F>
bool eventually(F f) {
    for (int i = 0; i < 300; ++i) {
        if (f()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

TEST(GdbServer, EndToEndOverTcp) {
    FakeTarget t(2);
    t.map(0xffffffff81000000ull, 0x5000);
    std::atomic<int> kills{0};
    GdbServer srv(t, "127.0.0.1", 0, [&] { ++kills; });
    ASSERT_NE(srv.port(), 0);
    EXPECT_FALSE(srv.wait_for_attach(10ms));

    Client c(srv.port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(srv.wait_for_attach(3000ms));
    EXPECT_TRUE(eventually([&] {
        std::lock_guard lk(t.mu);
        return t.pause_alls >= 1;
    }));

    auto sup = c.command("qSupported:multiprocess+;swbreak+");
    ASSERT_TRUE(sup);
    EXPECT_NE(sup->find("PacketSize=4000"), std::string::npos);
    EXPECT_EQ(c.command("?"), "T05thread:1;");

    // A corrupted packet is refused with '-', then the retransmission works.
    c.send_raw("$g#00");
    EXPECT_EQ(c.read_byte(), "-");
    auto g = c.command("g");
    ASSERT_TRUE(g);
    EXPECT_EQ(g->substr(16 * 16, 16), "00000081ffffffff");

    // A '-' from gdb makes the server resend its last reply.
    c.send_raw("-");
    EXPECT_EQ(c.read_packet(), *g);

    // Oversized packets are refused with an error, not a crash.
    c.send(std::string(kMaxPacket + 100, 'q'));
    EXPECT_EQ(c.read_byte(), "+");
    EXPECT_EQ(c.read_packet(), "E22");

    uint8_t orig = t.ram[0x5010];
    EXPECT_EQ(c.command("Z0,ffffffff81000010,1"), "OK");
    EXPECT_EQ(t.ram[0x5010], 0xCC);

    // Continue: no reply until a vCPU stops.
    c.send("c");
    EXPECT_EQ(c.read_byte(), "+");
    EXPECT_EQ(c.read_packet(200), std::nullopt);
    EXPECT_EQ(srv.on_debug_exit(1, {3, 0xffffffff81000010ull, 0}), DebugVerdict::Stop);
    EXPECT_EQ(c.read_packet(), "T05thread:2;swbreak:;");
    c.send_raw("+");

    // Continue again and interrupt with Ctrl-C.
    c.send("c");
    EXPECT_EQ(c.read_byte(), "+");
    c.send_raw("\x03");
    EXPECT_EQ(c.read_packet(), "T02thread:2;");
    c.send_raw("+");

    // No-ack mode: replies come without '+'.
    EXPECT_EQ(c.command("QStartNoAckMode"), "OK");
    c.send("qC");
    EXPECT_EQ(c.read_packet(), "QC2");

    // Dropping the connection detaches: breakpoint gone, guest running.
    c.close();
    EXPECT_TRUE(eventually([&] {
        std::lock_guard lk(t.mu);
        return !t.paused && t.ram[0x5010] == orig && !t.debug[0].enabled;
    }));

    // The next debugger is served, and 'k' reaches the machine.
    Client c2(srv.port());
    ASSERT_TRUE(c2.connected());
    EXPECT_EQ(c2.command("?"), "T05thread:1;");
    c2.send("k");
    EXPECT_EQ(c2.read_byte(), "+");
    EXPECT_TRUE(eventually([&] { return kills.load() == 1; }));
    EXPECT_TRUE(c2.closed_by_peer());
}

TEST(GdbServer, OneClientAtATime) {
    FakeTarget t(1);
    GdbServer srv(t, "127.0.0.1", 0, {});
    Client a(srv.port());
    ASSERT_TRUE(a.connected());
    EXPECT_EQ(a.command("?"), "T05thread:1;");
    // The second connection waits in the backlog, unserved, until the first leaves.
    Client b(srv.port());
    b.send("?");
    EXPECT_EQ(b.read_byte(300), "");
    a.send("D");
    EXPECT_EQ(a.read_byte(), "+");
    EXPECT_EQ(a.read_packet(), "OK");
    EXPECT_EQ(b.read_byte(), "+");
    EXPECT_EQ(b.read_packet(), "T05thread:1;");
}

TEST(GdbServer, BadAddressIsASetupError) {
    FakeTarget t(1);
    EXPECT_THROW(GdbServer(t, "not an address", 0, {}), Error);
    GdbServer srv(t, "127.0.0.1", 0, {});
    EXPECT_THROW(GdbServer(t, "127.0.0.1", srv.port(), {}), Error);  // port taken
}

// The real gdb, when installed: it must accept our target description and
// read registers and memory through the stub.
TEST(GdbServer, RealGdbAcceptsTheTarget) {
    if (::access("/usr/bin/gdb", X_OK) != 0) GTEST_SKIP() << "gdb not installed";
    constexpr uint64_t kBp = 0xffffffff81000010ull;
    FakeTarget t(2);
    t.map(0xffffffff81000000ull, 0x5000);
    t.ram[0x5000] = 0x90;
    t.ram[0x5001] = 0xc3;
    t.regs[1].cr3 = 0x1234000;
    GdbServer srv(t, "127.0.0.1", 0, {});
    // A pretend vCPU 0: whenever gdb lets it run, it either completes a
    // single step or runs into the breakpoint.
    std::atomic<bool> done{false};
    std::thread cpu([&] {
        size_t seen = 0;
        while (!done) {
            std::optional<std::optional<unsigned>> resumed;
            bool stepping = false, armed = false;
            {
                std::lock_guard lk(t.mu);
                if (t.resumes.size() > seen && !t.paused) {
                    resumed = t.resumes[seen];
                    seen = t.resumes.size();
                    stepping = t.debug[0].single_step;
                    armed = t.debug[0].enabled;
                }
            }
            if (resumed && armed) {
                if (stepping) {
                    t.regs[0].rip += 1;
                    srv.on_debug_exit(0, {1, t.regs[0].rip, 0xffff4ff0});
                } else if (t.ram[0x5010] == 0xCC) {
                    t.regs[0].rip = kBp;
                    srv.on_debug_exit(0, {3, kBp, 0});
                }
            }
            std::this_thread::sleep_for(2ms);
        }
    });
    std::string out = "/tmp/khyve-gdb-test-" + std::to_string(::getpid()) + ".txt";
    std::string cmd = "timeout 60 /usr/bin/gdb -nx -batch"
                      " -ex 'set pagination off'"
                      " -ex 'target remote 127.0.0.1:" + std::to_string(srv.port()) + "'"
                      " -ex 'info threads'"
                      " -ex 'p/x $rip'"
                      " -ex 'x/2xb 0xffffffff81000000'"
                      " -ex 'thread 2'"
                      " -ex 'p/x $cr3'"
                      " -ex 'p/x $rax'"
                      " -ex 'set $rbx = 0x77'"
                      " -ex 'thread 1'"
                      " -ex 'break *0xffffffff81000010'"
                      " -ex 'continue'"
                      " -ex 'p/x $pc'"
                      " -ex 'stepi'"
                      " -ex 'p/x $pc'"
                      " -ex 'delete'"
                      " -ex 'detach' > " + out + " 2>&1";
    int rc = std::system(cmd.c_str());
    done = true;
    cpu.join();
    std::ifstream in(out);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ::unlink(out.c_str());
    ASSERT_EQ(rc, 0) << text;
    EXPECT_NE(text.find("$1 = 0xffffffff81000000"), std::string::npos) << text;
    EXPECT_NE(text.find("0x90\t0xc3"), std::string::npos) << text;
    EXPECT_NE(text.find("$2 = 0x1234000"), std::string::npos) << text;
    EXPECT_NE(text.find("$3 = 0x2000"), std::string::npos) << text;  // vCPU 1's rax
    EXPECT_NE(text.find("hit Breakpoint 1, 0xffffffff81000010"), std::string::npos) << text;
    EXPECT_NE(text.find("$4 = 0xffffffff81000010"), std::string::npos) << text;
    EXPECT_NE(text.find("$5 = 0xffffffff81000011"), std::string::npos) << text;
    // Nothing gdb complains about beyond having no executable.
    std::string rest = text;
    auto noexe = rest.find("warning: No executable has been specified");
    if (noexe != std::string::npos) rest.erase(noexe, 10);
    EXPECT_EQ(rest.find("warning:"), std::string::npos) << text;
    EXPECT_EQ(t.regs[1].gpr[1], 0x77u);
    EXPECT_EQ(t.ram[0x5010], FakeTarget().ram[0x5010]);  // breakpoint byte restored
    EXPECT_TRUE(eventually([&] {
        std::lock_guard lk(t.mu);
        return !t.paused;
    }));
}

}  // namespace
}  // namespace khyve::gdb
