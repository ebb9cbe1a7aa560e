#include "ctl/control_commands.h"

#include <unistd.h>

#include "common/error.h"

namespace khyve {

namespace {

nlohmann::json stats_reply(ControlTarget& t, const nlohmann::json& req) {
    std::string format = "json";
    if (req.contains("format")) {
        if (!req["format"].is_string()) throw Error("format must be \"json\" or \"prometheus\"");
        format = req["format"].get<std::string>();
    }
    if (format != "json" && format != "prometheus")
        throw Error("unknown stats format '" + format + "' (json or prometheus)");
    auto groups = t.collect_stats();
    if (format == "prometheus") return {{"format", format}, {"text", format_prometheus(t.status().name, groups)}};
    return {{"vcpus", vcpus_json(groups)}, {"devices", devices_json(groups)}};
}

nlohmann::json regs_reply(ControlTarget& t, const nlohmann::json& req) {
    unsigned idx = 0;
    if (req.contains("vcpu")) {
        if (!req["vcpu"].is_number_unsigned()) throw Error("vcpu must be a vCPU number");
        idx = req["vcpu"].get<unsigned>();
    }
    kvm_regs r{};
    kvm_sregs s{};
    t.read_regs(idx, r, s);
    nlohmann::json regs = {
        {"rax", r.rax}, {"rbx", r.rbx}, {"rcx", r.rcx}, {"rdx", r.rdx}, {"rsi", r.rsi},
        {"rdi", r.rdi}, {"rbp", r.rbp}, {"rsp", r.rsp}, {"r8", r.r8},   {"r9", r.r9},
        {"r10", r.r10}, {"r11", r.r11}, {"r12", r.r12}, {"r13", r.r13}, {"r14", r.r14},
        {"r15", r.r15}, {"rip", r.rip}, {"rflags", r.rflags},
        {"cr0", s.cr0}, {"cr2", s.cr2}, {"cr3", s.cr3}, {"cr4", s.cr4}, {"efer", s.efer},
        {"cs", s.cs.selector}, {"ds", s.ds.selector}, {"ss", s.ss.selector},
        {"gdt_base", s.gdt.base}, {"idt_base", s.idt.base}};
    return {{"vcpu", idx}, {"regs", std::move(regs)}};
}

}  // namespace

nlohmann::json handle_control_command(ControlTarget& t, const nlohmann::json& req) {
    const std::string cmd = req["command"];
    if (cmd == "status") {
        auto st = t.status();
        return {{"name", st.name}, {"vcpus", st.vcpus}, {"lowmem", st.lowmem},
                {"highmem", st.highmem}, {"pid", ::getpid()}};
    }
    if (cmd == "stats") return stats_reply(t, req);
    if (cmd == "regs") return regs_reply(t, req);
    if (cmd == "poweroff") {
        t.power_off("bhyvectl");
        return {};
    }
    if (cmd == "destroy") {
        t.destroy();
        return {};
    }
    throw Error("unknown command '" + cmd + "'");
}

}  // namespace khyve
