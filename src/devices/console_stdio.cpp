#include "devices/console_stdio.h"
#include "sandbox/seccomp.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>

#include "common/error.h"
#include "devices/uart16550.h"

namespace khyve {
namespace {

// Saved terminal settings, readable from a signal handler: a slot is live
// when fd >= 0, and its termios is written before fd is published.
struct RawSlot {
    std::atomic<int> fd{-1};
    termios saved{};
};
constexpr int kNoFd = -1;
constexpr int kClaimed = -2;
std::array<RawSlot, 8> g_slots;

extern "C" void restore_at_exit() { terminal_restore_all(); }

}  // namespace

void terminal_restore_all() noexcept {
    for (auto& s : g_slots) {
        int fd = s.fd.load();
        if (fd >= 0) ::tcsetattr(fd, TCSANOW, &s.saved);
    }
}

std::unique_ptr<ConsoleBackend> ConsoleBackend::open_stdio() {
    auto c = std::make_unique<ConsoleBackend>(STDIN_FILENO, STDOUT_FILENO);
    if (::isatty(STDIN_FILENO)) c->make_raw(STDIN_FILENO);
    return c;
}

std::unique_ptr<ConsoleBackend> ConsoleBackend::open_path(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!fd.valid()) throw sys_error("open " + path);
    int raw = fd.get();
    auto c = std::make_unique<ConsoleBackend>(raw, raw, std::move(fd));
    if (::isatty(raw)) c->make_raw(raw);
    return c;
}

ConsoleBackend::ConsoleBackend(int in_fd, int out_fd, Fd owned)
    : in_fd_(in_fd), out_fd_(out_fd), owned_(std::move(owned)) {
    stop_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_.valid()) throw sys_error("eventfd");
}

ConsoleBackend::~ConsoleBackend() {
    stop();
    if (raw_slot_ >= 0) {
        RawSlot& s = g_slots[static_cast<size_t>(raw_slot_)];
        int fd = s.fd.load();
        if (fd >= 0) ::tcsetattr(fd, TCSANOW, &s.saved);
        s.fd.store(kNoFd);
    }
}

void ConsoleBackend::make_raw(int fd) {
    termios saved{};
    if (::tcgetattr(fd, &saved) != 0) return;  // not really a terminal: leave it
    static std::once_flag at_exit;
    std::call_once(at_exit, [] { std::atexit(restore_at_exit); });
    for (size_t i = 0; i < g_slots.size(); ++i) {
        int expected = kNoFd;
        if (!g_slots[i].fd.compare_exchange_strong(expected, kClaimed)) continue;
        g_slots[i].saved = saved;
        g_slots[i].fd.store(fd);
        raw_slot_ = static_cast<int>(i);
        break;
    }
    if (raw_slot_ < 0) throw Error("too many raw terminals");
    termios raw = saved;
    ::cfmakeraw(&raw);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (::tcsetattr(fd, TCSANOW, &raw) != 0) throw sys_error("tcsetattr");
}

void ConsoleBackend::output(uint8_t byte) { output(std::span<const uint8_t>(&byte, 1)); }

void ConsoleBackend::output(std::span<const uint8_t> bytes) {
    std::lock_guard lock(out_mu_);
    while (!bytes.empty() && !out_broken_) {
        pollfd p{out_fd_, POLLOUT, 0};
        int r = ::poll(&p, 1, stalled_ ? 0 : kStallMs);
        if (r < 0) {
            if (errno == EINTR) continue;
            out_broken_ = true;
            break;
        }
        if (r == 0) {
            stalled_ = true;
            dropped_ += bytes.size();
            return;
        }
        ssize_t n = ::write(out_fd_, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            out_broken_ = true;  // EPIPE, EIO...: the reader is gone
            break;
        }
        stalled_ = false;
        bytes = bytes.subspan(static_cast<size_t>(n));
    }
    dropped_ += bytes.size();
}

void ConsoleBackend::start(Uart16550& uart) {
    if (reader_.joinable()) return;
    reader_ = std::thread([this, &uart] { run(&uart); });
}

void ConsoleBackend::stop() {
    if (!reader_.joinable()) return;
    uint64_t one = 1;
    ssize_t n;
    do {
        n = ::write(stop_.get(), &one, sizeof one);
    } while (n < 0 && errno == EINTR);
    reader_.join();
}

void ConsoleBackend::run(Uart16550* uart) {
    enter_thread_sandbox(ThreadKind::DeviceIo);
    std::array<uint8_t, 256> buf;
    size_t have = 0;
    size_t off = 0;
    for (;;) {
        if (off < have) {
            off += uart->receive(std::span<const uint8_t>(buf.data() + off, have - off));
            if (off < have) {
                // The guest has not drained the UART yet: wait a little,
                // listening only for the stop request.
                pollfd p{stop_.get(), POLLIN, 0};
                if (::poll(&p, 1, kRetryMs) > 0) return;
            }
            continue;
        }
        pollfd p[2] = {{in_fd_, POLLIN, 0}, {stop_.get(), POLLIN, 0}};
        int r = ::poll(p, 2, -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents) return;
        if (p[0].revents & POLLNVAL) break;
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(in_fd_, buf.data(), buf.size());
        if (n > 0) {
            have = static_cast<size_t>(n);
            off = 0;
        } else if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        } else {
            break;  // end of file, or EIO from a hung-up tty
        }
    }
    input_closed_.store(true);
}

}  // namespace khyve
