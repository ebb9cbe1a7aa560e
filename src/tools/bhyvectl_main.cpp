// bhyvectl(8): inspect and destroy VM objects. Queries about a running VM go
// over its control socket to the bhyve process.
#include <getopt.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "ctl/control_server.h"
#include "stats/stats.h"
#include "vm/vm_object.h"

namespace {

using khyve::Error;
using nlohmann::json;

struct Options {
    std::string vm;
    bool destroy = false, stats = false, lowmem = false, highmem = false, rip = false,
         all = false, as_json = false, prometheus = false, raw = false;
    unsigned vcpu = 0;
};

void usage(FILE* f) {
    std::fprintf(f,
                 "usage: bhyvectl --vm=NAME [--vcpu=N] [--destroy] [--get-stats] [--get-lowmem]\n"
                 "                [--get-highmem] [--get-rip] [--get-all] [--json] [--prometheus]\n"
                 "       bhyvectl --vm=NAME --raw-request <REQUEST\n");
}

Options parse(int argc, char** argv) {
    enum { kVm = 1000, kVcpu, kDestroy, kStats, kLow, kHigh, kRip, kAll, kJson, kProm, kRaw, kHelp };
    static const option longopts[] = {
        {"vm", required_argument, nullptr, kVm},
        {"vcpu", required_argument, nullptr, kVcpu},
        {"destroy", no_argument, nullptr, kDestroy},
        {"get-stats", no_argument, nullptr, kStats},
        {"get-lowmem", no_argument, nullptr, kLow},
        {"get-highmem", no_argument, nullptr, kHigh},
        {"get-rip", no_argument, nullptr, kRip},
        {"get-all", no_argument, nullptr, kAll},
        {"json", no_argument, nullptr, kJson},
        {"prometheus", no_argument, nullptr, kProm},
        {"raw-request", no_argument, nullptr, kRaw},
        {"help", no_argument, nullptr, kHelp},
        {nullptr, 0, nullptr, 0},
    };
    Options o;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, nullptr)) != -1) {
        switch (c) {
            case kVm: o.vm = optarg; break;
            case kVcpu: {
                char* end = nullptr;
                unsigned long v = std::strtoul(optarg, &end, 10);
                if (!*optarg || *end || v > 4096) throw Error(std::string("--vcpu: invalid number '") + optarg + "'");
                o.vcpu = unsigned(v);
                break;
            }
            case kDestroy: o.destroy = true; break;
            case kStats: o.stats = true; break;
            case kLow: o.lowmem = true; break;
            case kHigh: o.highmem = true; break;
            case kRip: o.rip = true; break;
            case kAll: o.all = true; break;
            case kJson: o.as_json = true; break;
            case kProm: o.prometheus = true; break;
            case kRaw: o.raw = true; break;
            case kHelp: usage(stdout); std::exit(0);
            default:
                throw Error(std::string("unknown or incomplete option ") + argv[optind - 1]);
        }
    }
    if (optind != argc) throw Error(std::string("unexpected argument '") + argv[optind] + "'");
    if (o.vm.empty()) throw Error("--vm=NAME is required");
    if (o.raw && (o.stats || o.lowmem || o.highmem || o.rip || o.all || o.destroy || o.as_json))
        throw Error("--raw-request goes alone: it sends standard input as it is");
    if (o.prometheus && !o.stats) throw Error("--prometheus goes with --get-stats");
    if (o.prometheus && (o.as_json || o.lowmem || o.highmem || o.rip || o.all || o.destroy))
        throw Error("--prometheus prints the statistics alone: no --json or other queries with it");
    return o;
}

json request(const khyve::VmObject* unused, const std::string& name, json req) {
    (void)unused;
    req["version"] = khyve::kControlProtocolVersion;
    auto reply = khyve::control_request(khyve::vm_path(name) + "/ctl", req);
    if (!reply.value("ok", false)) throw Error(reply.value("error", std::string("request failed")));
    return reply;
}

bool is_running(const std::string& name) {
    try {
        request(nullptr, name, {{"command", "status"}});
        return true;
    } catch (const Error&) {
        return false;
    }
}

// bhyvectl --get-stats prints FreeBSD's wording; the numbers come from KVM's
// binary statistics and the VMM's own counters.
void print_stats(const json& vcpus) {
    auto kv = [](const json& v, const char* key) -> uint64_t {
        return v.contains("kvm") && v["kvm"].contains(key) ? v["kvm"][key].get<uint64_t>() : 0;
    };
    for (const auto& v : vcpus) {
        std::printf("vcpu%u stats:\n", v["vcpu"].get<unsigned>());
        auto line = [](const char* what, uint64_t n) { std::printf("%-48s\t%llu\n", what, (unsigned long long)n); };
        line("number of times in/out of guest", kv(v, "exits"));
        line("number of ticks vcpu was idle", kv(v, "halt_wait_ns") / 1000000);
        line("number of NMIs delivered to vcpu", kv(v, "nmi_injections"));
        line("vcpu migration across host cpus", v["migrations"].get<uint64_t>());
        line("vm exits due to external interrupt", kv(v, "irq_exits"));
        line("number of times hlt was intercepted", kv(v, "halt_exits"));
        line("vm exits due to I/O instructions", kv(v, "io_exits"));
        line("vm exits due to MMIO", kv(v, "mmio_exits"));
        line("interrupts injected", kv(v, "irq_injections"));
        line("exits handled in user space", v["user_exits"].get<uint64_t>());
        for (const char* key : {"user_io_exits", "user_mmio_exits", "user_hlt_exits", "user_shutdown_exits",
                                "user_system_event_exits", "user_debug_exits", "user_other_exits", "kicks"})
            line(khyve::describe_counter("vcpu", key), v.value(key, uint64_t(0)));
        line("vcpu total runtime", v["runtime_ns"].get<uint64_t>());
    }
}

// The VMM's own device counters, one block per device as the vCPUs above.
void print_device_stats(const json& devices) {
    auto line = [](const std::string& what, uint64_t n) {
        std::printf("%-48s\t%llu\n", what.c_str(), (unsigned long long)n);
    };
    auto label = [](const std::string& type, const std::string& key) {
        const char* text = khyve::describe_counter(type, key);
        return std::string(text ? text : key.c_str());
    };
    for (const auto& d : devices) {
        const std::string type = d.value("type", std::string());
        std::printf("%s stats:\n", d.value("device", std::string()).c_str());
        if (d.contains("counters"))
            for (const auto& [k, v] : d["counters"].items())
                if (v.is_number_unsigned()) line(label(type, k), v.get<uint64_t>());
        if (!d.contains("queues")) continue;
        for (const auto& q : d["queues"]) {
            unsigned idx = q.value("queue", 0u);
            for (const auto& [k, v] : q.items())
                if (k != "queue" && v.is_number_unsigned())
                    line("queue " + std::to_string(idx) + " " + label("virtqueue", k), v.get<uint64_t>());
        }
    }
}

int run(int argc, char** argv) {
    Options o = parse(argc, argv);
    khyve::VmObject::check_name(o.vm);
    if (!khyve::VmObject::exists(o.vm)) throw Error("VM " + o.vm + " does not exist");

    if (o.raw) {
        // Standard input goes to bhyve verbatim; its reply line comes back as
        // it is, errors included: a tool for poking at the control protocol.
        std::string reply = khyve::control_request_raw(khyve::vm_path(o.vm) + "/ctl", STDIN_FILENO);
        std::printf("%s\n", reply.c_str());
        return 0;
    }
    json out = json::object();
    bool running = is_running(o.vm);
    if (o.lowmem || o.highmem) {
        uint64_t low = 0, high = 0;
        if (running) {
            auto st = request(nullptr, o.vm, {{"command", "status"}});
            low = st["lowmem"];
            high = st["highmem"];
        } else {
            auto vm = khyve::VmObject::open(o.vm);
            low = vm.lowmem();
            high = vm.highmem();
        }
        if (o.lowmem) {
            out["lowmem"] = low;
            if (!o.as_json) std::printf("lowmem\t\t0x%016llx\n", (unsigned long long)low);
        }
        if (o.highmem) {
            out["highmem"] = high;
            if (!o.as_json) std::printf("highmem\t\t0x%016llx\n", (unsigned long long)high);
        }
    }
    if (o.stats && o.prometheus) {
        if (!running) throw Error("VM " + o.vm + " is not running: no statistics");
        auto st = request(nullptr, o.vm, {{"command", "stats"}, {"format", "prometheus"}});
        std::fputs(st.value("text", std::string()).c_str(), stdout);
        return 0;
    }
    if (o.stats) {
        if (running) {
            auto st = request(nullptr, o.vm, {{"command", "stats"}});
            out["vcpus"] = st["vcpus"];
            out["devices"] = st.contains("devices") ? st["devices"] : json::array();
            if (!o.as_json) {
                print_stats(st["vcpus"]);
                print_device_stats(out["devices"]);
            }
        } else {
            out["vcpus"] = json::array();
            out["devices"] = json::array();
            out["running"] = false;
            if (!o.as_json) std::printf("VM %s is not running: no statistics\n", o.vm.c_str());
        }
    }
    if (o.rip || o.all) {
        if (!running) throw Error("VM " + o.vm + " is not running: no registers to show");
        auto r = request(nullptr, o.vm, {{"command", "regs"}, {"vcpu", o.vcpu}});
        const json& regs = r["regs"];
        out["regs"] = regs;
        if (!o.as_json) {
            for (const auto& [k, v] : regs.items()) {
                if (!o.all && k != "rip") continue;
                std::printf("%s[%u]\t0x%016llx\n", k.c_str(), o.vcpu, (unsigned long long)v.get<uint64_t>());
            }
        }
    }
    if (o.destroy) {
        if (running) {
            try {
                request(nullptr, o.vm, {{"command", "destroy"}});
            } catch (const Error&) {
                // it may have exited between the two calls
            }
        }
        // bhyve releases the VM's lock as it exits.
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        for (;;) {
            try {
                khyve::VmObject::destroy(o.vm);
                break;
            } catch (const Error&) {
                if (std::chrono::steady_clock::now() > deadline) throw;
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
        out["destroyed"] = true;
    }
    if (o.as_json) std::cout << out.dump() << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bhyvectl: %s\n", e.what());
        return khyve::kExitError;
    }
}
