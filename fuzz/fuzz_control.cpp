// ControlServer::serve_line on arbitrary request lines, answered by the real
// handler (handle_control_command) over a fake ControlTarget. It must never
// throw; every reply must be one JSON object line with "ok" and "version",
// an error reply must say why, a regs reply must name an existing vCPU, and
// poweroff/destroy must reach the machine exactly when the reply is ok.
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "ctl/control_commands.h"
#include "ctl/control_server.h"

using namespace khyve;

namespace {

struct FakeTarget : ControlTarget {
    unsigned powered_off = 0, destroyed = 0;
    Status status() override { return {"fuzz\xff\"vm", 2, 256u << 20, 1ull << 32}; }
    std::vector<StatsGroup> collect_stats() override {
        StatsGroup v{"vcpu", {{"vcpu", "0"}}, {}};
        VcpuCounters c;
        append_samples(v.samples, c);
        StatsGroup d{"uart", {{"device", "com1\n\"x"}}, {}};
        UartCounters u;
        append_samples(d.samples, u);
        return {v, d};
    }
    void read_regs(unsigned vcpu, kvm_regs& regs, kvm_sregs& sregs) override {
        if (vcpu >= 2) throw Error("no vCPU " + std::to_string(vcpu));
        regs.rip = 0xfff0 + vcpu;
        sregs.cr0 = 0x60000010;
    }
    void power_off(const char*) override { ++powered_off; }
    void destroy() override { ++destroyed; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > kControlMaxRequest) return 0;
    std::string line(reinterpret_cast<const char*>(data), size);
    FakeTarget t;
    std::string reply = ControlServer::serve_line(line, [&](const nlohmann::json& r) {
        return handle_control_command(t, r);
    });
    if (reply.find('\n') != std::string::npos) __builtin_trap();
    auto j = nlohmann::json::parse(reply, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("ok") || !j["ok"].is_boolean() ||
        j["version"] != kControlProtocolVersion)
        __builtin_trap();
    const bool ok = j["ok"];
    if (!ok && !(j.contains("error") && j["error"].is_string())) __builtin_trap();
    if (ok && j.contains("regs") && !(j["vcpu"].is_number_unsigned() && j["vcpu"].get<unsigned>() < 2))
        __builtin_trap();
    if (t.powered_off + t.destroyed > 1) __builtin_trap();
    if (!ok && t.powered_off + t.destroyed != 0) __builtin_trap();
    return 0;
}
