#include "vcpu/exit_handler.h"

#include <linux/kvm.h>

#include <cstdio>

#include "trace/probes.h"

namespace khyve {

namespace {

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

bool valid_width(uint32_t size) { return size == 1 || size == 2 || size == 4 || size == 8; }

}  // namespace

ExitResult ExitHandler::access(const Bus& bus, VcpuExit& e, const char* space) const {
    if (!valid_width(e.size) || e.data.size() < size_t(e.size) * e.count)
        return {ExitAction::Error, std::string("malformed ") + space + " exit"};
    bool claimed = true;
    for (uint32_t i = 0; i < e.count; ++i) {
        auto chunk = e.data.subspan(size_t(i) * e.size, e.size);
        claimed = e.write ? bus.write(e.addr, chunk) : bus.read(e.addr, chunk);
        if (!claimed) break;
    }
    if (!claimed && opts_.strict_io)
        return {ExitAction::Error, std::string("unhandled ") + space + (e.write ? " write" : " read") +
                                       " at " + hex(e.addr) + " (width " +
                                       std::to_string(e.size) + ")"};
    if (!claimed && !e.write) {
        for (auto& b : e.data) b = 0xff;  // nothing there: the bus floats high
    }
    return {};
}

ExitResult ExitHandler::handle(VcpuExit& e) const {
    switch (e.kind) {
        // Once per exit, before any device sees it (a string instruction's
        // repetitions are one exit).
        case VcpuExit::Kind::Io:
            KHYVE_PROBE_PIO(e.addr, e.size, e.write);
            return access(pio_, e, "I/O port");
        case VcpuExit::Kind::Mmio:
            KHYVE_PROBE_MMIO(e.addr, e.size, e.write);
            return access(mmio_, e, "MMIO");
        case VcpuExit::Kind::Interrupted: return {};
        case VcpuExit::Kind::Hlt: return {ExitAction::Halt, "vCPU halted"};
        case VcpuExit::Kind::Shutdown: return {ExitAction::TripleFault, "triple fault"};
        case VcpuExit::Kind::SystemEvent:
            switch (e.event) {
                case KVM_SYSTEM_EVENT_SHUTDOWN: return {ExitAction::PowerOff, "power off"};
                case KVM_SYSTEM_EVENT_RESET: return {ExitAction::Reset, "reset"};
                default:
                    return {ExitAction::Error, "guest crashed (system event " +
                                                   std::to_string(e.event) + ")"};
            }
        case VcpuExit::Kind::FailEntry:
            return {ExitAction::Error, "VM entry failed, hardware reason " + hex(e.code)};
        case VcpuExit::Kind::InternalError:
            return {ExitAction::Error,
                    "KVM internal error, suberror " + std::to_string(e.code) +
                        (e.code == KVM_INTERNAL_ERROR_EMULATION
                             ? " (emulation failure: this host's KVM cannot run this guest)"
                             : "")};
        case VcpuExit::Kind::Debug: return {};
        case VcpuExit::Kind::Unknown: break;
    }
    return {ExitAction::Error, "unexpected KVM exit reason " + std::to_string(e.code)};
}

}  // namespace khyve
