// Host ends of a serial port: the `stdio` backend (bhyve's `-l com1,stdio`)
// and a path backend (`-l com1,/dev/pts/3`, a tty or any file opened
// read-write). Output is the UART's tx callback; input comes from a reader
// thread that feeds Uart16550::receive.
//
// A tty used for input is put in raw mode (no echo, no line editing, no
// signals: ^C goes to the guest) and restored when the backend is destroyed,
// at exit (an atexit handler is registered), and by terminal_restore_all(),
// which the machine must also call from its fatal-signal handlers.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "common/fd.h"

namespace khyve {

class Uart16550;

// Restores every terminal a ConsoleBackend put in raw mode.
// Async-signal-safe (only tcsetattr), idempotent.
void terminal_restore_all() noexcept;

class ConsoleBackend {
public:
    // stdin for input (raw mode if it is a tty), stdout for output.
    static std::unique_ptr<ConsoleBackend> open_stdio();
    // One read-write file for both directions; raw mode if it is a tty.
    // Throws Error if it cannot be opened.
    static std::unique_ptr<ConsoleBackend> open_path(const std::string& path);

    // Unowned descriptors; no terminal changes. For tests and callers that
    // already prepared their fds. owned, if valid, is closed on destruction.
    ConsoleBackend(int in_fd, int out_fd, Fd owned = Fd());
    ~ConsoleBackend();  // stop(), then restores the terminal
    ConsoleBackend(const ConsoleBackend&) = delete;
    ConsoleBackend& operator=(const ConsoleBackend&) = delete;

    // The UART's tx callback. Writes fully, retrying on EINTR/EAGAIN. If the
    // output stays unwritable for kStallMs, the byte is dropped and further
    // bytes are dropped without waiting until the output drains again, so a
    // stuck reader cannot hold a vCPU forever. Never throws.
    void output(uint8_t byte);
    void output(std::span<const uint8_t> bytes);

    // Starts the reader thread (once). The uart must outlive stop().
    void start(Uart16550& uart);
    // Stops and joins the reader thread; idempotent.
    void stop();

    // True once the reader saw end of file or an error on its input.
    bool input_closed() const { return input_closed_.load(); }
    uint64_t dropped_output() const { return dropped_.load(); }

    static constexpr int kStallMs = 1000;
    // How often the reader retries while the UART's buffer is full.
    static constexpr int kRetryMs = 10;

private:
    void make_raw(int fd);
    void run(Uart16550* uart);

    int in_fd_;
    int out_fd_;
    Fd owned_;
    Fd stop_;       // eventfd waking the reader to quit
    int raw_slot_ = -1;

    std::mutex out_mu_;
    bool stalled_ = false;
    bool out_broken_ = false;

    std::thread reader_;
    std::atomic<bool> input_closed_{false};
    std::atomic<uint64_t> dropped_{0};
};

}  // namespace khyve
