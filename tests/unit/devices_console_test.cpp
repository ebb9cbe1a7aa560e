#include "devices/console_stdio.h"

#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "devices/uart16550.h"

namespace khyve {
namespace {

struct Pipe {
    Fd r, w;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
        r.reset(fds[0]);
        w.reset(fds[1]);
    }
};

template <class F>
bool eventually(F f) {
    for (int i = 0; i < 500; ++i) {
        if (f()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return f();
}

std::string drain(Uart16550& u) {
    std::string s;
    while (u.read(5) & 1) s.push_back(static_cast<char>(u.read(0)));
    return s;
}

TEST(DevicesConsole, InputReachesUartAndStopsAtEof) {
    Pipe in, out;
    ConsoleBackend con(in.r.get(), out.w.get());
    Uart16550 uart(nullptr, [&](uint8_t b) { con.output(b); });
    con.start(uart);
    ASSERT_EQ(::write(in.w.get(), "hello", 5), 5);
    std::string got;
    EXPECT_TRUE(eventually([&] { got += drain(uart); return got == "hello"; })) << got;
    EXPECT_FALSE(con.input_closed());
    in.w.reset();
    EXPECT_TRUE(eventually([&] { return con.input_closed(); }));
    con.stop();
}

TEST(DevicesConsole, OutputWritesEveryByte) {
    Pipe in, out;
    ConsoleBackend con(in.r.get(), out.w.get());
    Uart16550 uart(nullptr, [&](uint8_t b) { con.output(b); });
    for (char c : std::string("abc\r\n")) uart.write(0, static_cast<uint8_t>(c));
    char buf[16];
    ssize_t n = ::read(out.r.get(), buf, sizeof buf);
    EXPECT_EQ(std::string(buf, static_cast<size_t>(n > 0 ? n : 0)), "abc\r\n");
}

TEST(DevicesConsole, FullUartIsRetriedWithoutLoss) {
    Pipe in, out;
    ConsoleBackend con(in.r.get(), out.w.get());
    Uart16550 uart(nullptr, nullptr);
    con.start(uart);
    const size_t total = Uart16550::kRxCapacity + Uart16550::kFifoSize + 3000;
    std::string data;
    for (size_t i = 0; i < total; ++i) data.push_back(static_cast<char>('a' + i % 26));
    std::thread writer([&] {
        size_t off = 0;
        while (off < data.size()) {
            ssize_t n = ::write(in.w.get(), data.data() + off, data.size() - off);
            if (n <= 0) break;
            off += static_cast<size_t>(n);
        }
    });
    EXPECT_TRUE(eventually([&] { return !uart.can_receive(); }));
    std::string got;
    EXPECT_TRUE(eventually([&] { got += drain(uart); return got.size() == total; }));
    EXPECT_EQ(got, data);
    writer.join();
    con.stop();  // while the reader waits on an empty pipe
}

TEST(DevicesConsole, StuckOutputDoesNotBlockForever) {
    Pipe in, out;
    ASSERT_EQ(::fcntl(out.w.get(), F_SETPIPE_SZ, 4096), 4096);
    ConsoleBackend con(in.r.get(), out.w.get());
    std::vector<uint8_t> chunk(4096, 'x');
    con.output(chunk);  // fills the pipe
    EXPECT_EQ(con.dropped_output(), 0u);
    auto t0 = std::chrono::steady_clock::now();
    con.output('y');  // waits kStallMs, then drops
    con.output('z');  // dropped at once while stalled
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    EXPECT_EQ(con.dropped_output(), 2u);
    EXPECT_LT(ms.count(), ConsoleBackend::kStallMs + 500);
    char buf[8192];
    ASSERT_EQ(::read(out.r.get(), buf, sizeof buf), 4096);
    con.output('w');
    ASSERT_EQ(::read(out.r.get(), buf, sizeof buf), 1);
    EXPECT_EQ(buf[0], 'w');
}

TEST(DevicesConsole, TtyPathIsRawAndRestored) {
    int master = ::posix_openpt(O_RDWR | O_NOCTTY);
    ASSERT_GE(master, 0);
    Fd m(master);
    ASSERT_EQ(::grantpt(master), 0);
    ASSERT_EQ(::unlockpt(master), 0);
    std::string slave = ::ptsname(master);
    Fd probe(::open(slave.c_str(), O_RDWR | O_NOCTTY));
    ASSERT_TRUE(probe.valid());
    termios before{};
    ASSERT_EQ(::tcgetattr(probe.get(), &before), 0);
    ASSERT_TRUE(before.c_lflag & ICANON);
    {
        auto con = ConsoleBackend::open_path(slave);
        termios now{};
        ASSERT_EQ(::tcgetattr(probe.get(), &now), 0);
        EXPECT_FALSE(now.c_lflag & (ICANON | ECHO | ISIG));
        terminal_restore_all();
        ASSERT_EQ(::tcgetattr(probe.get(), &now), 0);
        EXPECT_TRUE(now.c_lflag & ICANON);
        termios raw = now;
        ::cfmakeraw(&raw);
        ASSERT_EQ(::tcsetattr(probe.get(), TCSANOW, &raw), 0);

        Uart16550 uart(nullptr, [&](uint8_t b) { con->output(b); });
        con->start(uart);
        ASSERT_EQ(::write(master, "k", 1), 1);
        std::string got;
        EXPECT_TRUE(eventually([&] { got += drain(uart); return got == "k"; }));
        uart.write(0, 'o');
        char c = 0;
        ASSERT_EQ(::read(master, &c, 1), 1);
        EXPECT_EQ(c, 'o');
    }
    termios after{};
    ASSERT_EQ(::tcgetattr(probe.get(), &after), 0);
    EXPECT_TRUE(after.c_lflag & ICANON);
    EXPECT_TRUE(after.c_lflag & ECHO);
}

TEST(DevicesConsole, OpenPathFailureThrows) {
    EXPECT_THROW(ConsoleBackend::open_path("/nonexistent/tty"), Error);
}

}  // namespace
}  // namespace khyve
