// The gdb remote protocol command set for an all-stop, multi-threaded
// x86-64 target: one gdb thread per vCPU (thread id = vCPU index + 1).
// Packet payloads in, reply payloads out; the server does framing and I/O.
//
// Threading: on_debug_exit() runs on vCPU threads; everything else on the
// server thread. They share only the breakpoint addresses and the pending
// stop, under a mutex that is never held while waiting for vCPUs.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gdb/gdb_target.h"

namespace khyve::gdb {

class GdbStub {
public:
    struct Callbacks {
        std::function<void()> stop_pending;  // a vCPU reported a stop: call take_stop() (from a vCPU thread)
        std::function<void()> kill;          // 'k': power the guest off
    };

    GdbStub(GdbTarget& target, Callbacks cb);

    // --- server thread ---
    // A debugger connected: stop the guest, forget any previous session.
    void attach();
    // One packet payload (as received, still escaped). Returns the reply, or
    // nullopt when there is none now: after c/s/vCont the reply is the stop
    // reply from take_stop(); after 'k' there is none.
    std::optional<std::string> handle(std::string_view packet);
    // If a vCPU reported a stop: pause every vCPU and return the stop reply.
    std::optional<std::string> take_stop();
    // Ctrl-C while the guest runs: pause it, return the stop reply (nullopt
    // if the guest is not running).
    std::optional<std::string> interrupt();
    // Debugger gone (D or dropped connection): restore breakpointed bytes,
    // turn guest debugging off, let the guest run.
    void detach();

    bool attached() const { return attached_; }
    bool running() const;
    bool no_ack() const { return no_ack_; }
    bool wants_close() const { return close_; }  // after 'D' or 'k'

    // --- vCPU threads ---
    // A KVM_EXIT_DEBUG. On Stop the stub has already requested the pause:
    // the vCPU must not re-enter KVM_RUN until resumed.
    DebugVerdict on_debug_exit(unsigned vcpu, const DebugExit& e);

    static constexpr size_t kMaxMemoryChunk = 4096;  // bytes per m/M/X (PacketSize allows it in hex)

    // Memory as the debugger sees it (software breakpoints hidden), through
    // vCPU `vcpu`'s page tables. Reads may come back short; writes are all or nothing.
    std::vector<uint8_t> read_memory(unsigned vcpu, uint64_t gva, size_t len);
    bool write_memory(unsigned vcpu, uint64_t gva, std::span<const uint8_t> data);

private:
    enum class StopKind { Signal, SwBreak, HwBreak, Watch, AWatch, Step };
    struct Stop {
        unsigned vcpu;
        StopKind kind;
        uint64_t addr = 0;
        int signal = 5;
    };
    struct SwBreakpoint {
        uint64_t gpa;
        uint8_t orig;
    };

    std::string dispatch(std::string_view p, bool& resumed);
    std::string q_packet(std::string_view p);
    std::string stop_reply(const Stop& s);
    std::string cmd_read_memory(std::string_view args);
    std::string cmd_write_memory(std::string_view args, bool binary);
    std::string cmd_breakpoint(std::string_view args, bool insert);
    std::string cmd_select_thread(std::string_view args);
    std::string cmd_vcont(std::string_view args, bool& resumed);
    std::string cmd_resume(std::string_view args, bool step, bool has_signal, bool& resumed);
    std::string cmd_read_reg(std::string_view args);
    std::string cmd_write_reg(std::string_view args);
    std::string cmd_write_regs(std::string_view args);
    bool insert_sw(uint64_t addr);
    void remove_sw(uint64_t addr);
    void remove_all_breakpoints();
    void resume(std::optional<unsigned> step);
    void apply_debug(std::optional<unsigned> step);
    std::optional<unsigned> parse_thread(std::string_view s, bool allow_all) const;
    void publish_breakpoints();

    GdbTarget& target_;
    Callbacks cb_;

    // Server thread only.
    bool attached_ = false;
    bool no_ack_ = false;
    bool close_ = false;
    unsigned g_vcpu_ = 0, c_vcpu_ = 0;
    std::string last_stop_ = "S05";
    std::map<uint64_t, SwBreakpoint> sw_;
    std::array<std::optional<HwBreakpoint>, 4> hw_{};
    std::vector<std::optional<GuestDebug>> applied_;

    // Shared with vCPU threads.
    mutable std::mutex mu_;
    bool running_ = false;
    std::optional<unsigned> stepping_;
    std::optional<Stop> pending_;
    std::set<uint64_t> sw_addrs_;
    std::array<std::optional<HwBreakpoint>, 4> hw_shared_{};
};

}  // namespace khyve::gdb
