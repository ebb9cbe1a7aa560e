// ControlServer::serve_line on arbitrary request lines, with a handler shaped
// like bhyve's (status, stats, regs with an optional vcpu, poweroff, destroy,
// unknown commands throwing Error). It must never throw, and every reply
// must be one JSON object line with "ok" and "version".
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "ctl/control_server.h"

using namespace khyve;

namespace {

nlohmann::json handle(const nlohmann::json& req) {
    const std::string cmd = req["command"];
    if (cmd == "status") return {{"name", "fuzz"}, {"vcpus", 2}, {"pid", 1}};
    if (cmd == "stats") return {{"vcpus", nlohmann::json::array({{{"vcpu", 0}, {"exits", 1}}})}};
    if (cmd == "regs") {
        unsigned idx = req.contains("vcpu") && req["vcpu"].is_number_unsigned() ? req["vcpu"].get<unsigned>() : 0;
        if (idx >= 2) throw Error("no vCPU " + std::to_string(idx));
        return {{"vcpu", idx}, {"regs", {{"rip", 0xfff0}}}};
    }
    if (cmd == "poweroff" || cmd == "destroy") return {};
    throw Error("unknown command '" + cmd + "'");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > kControlMaxRequest) return 0;
    std::string line(reinterpret_cast<const char*>(data), size);
    std::string reply = ControlServer::serve_line(line, handle);
    if (reply.find('\n') != std::string::npos) __builtin_trap();
    auto j = nlohmann::json::parse(reply, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("ok") || !j.contains("version")) __builtin_trap();
    return 0;
}
