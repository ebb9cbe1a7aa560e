// bhyve's -g/-G debug server: a TCP listener (default 127.0.0.1) that serves
// one gdb at a time on its own thread, speaking the remote protocol through
// GdbStub. A dropped connection detaches: breakpoints removed, guest resumed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/fd.h"
#include "gdb/gdb_stub.h"

namespace khyve::gdb {

class GdbServer {
public:
    // Binds and listens (throws khyve::Error on failure); port 0 picks a free
    // port (tests). on_kill runs on the server thread when gdb sends 'k'.
    GdbServer(GdbTarget& target, const std::string& address, uint16_t port, std::function<void()> on_kill);
    ~GdbServer();
    GdbServer(const GdbServer&) = delete;
    GdbServer& operator=(const GdbServer&) = delete;

    uint16_t port() const { return port_; }

    // -G w: blocks until a debugger has connected and the guest is paused
    // for it. The timed form returns false on timeout (so the caller can
    // check for signals and shutdown in between).
    void wait_for_attach();
    bool wait_for_attach(std::chrono::milliseconds timeout);

    // From the vCPU thread on KVM_EXIT_DEBUG (see GdbStub::on_debug_exit).
    DebugVerdict on_debug_exit(unsigned vcpu, const DebugExit& e) { return stub_.on_debug_exit(vcpu, e); }

    static constexpr size_t kReadChunk = 4096;

private:
    void loop();
    void serve(int conn);
    bool send_all(int conn, const std::string& bytes);

    GdbStub stub_;
    Fd listen_, shutdown_, stop_event_;
    uint16_t port_ = 0;
    std::mutex mu_;
    std::condition_variable attach_cv_;
    bool attached_once_ = false;
    std::thread thread_;
};

}  // namespace khyve::gdb
