// bhyveload(8): create (or re-initialise) the VM object NAME and place a Linux
// kernel, initrd and command line in its memory, ready for bhyve(8).
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include <poll.h>
#include <termios.h>

#include <iostream>

#include "boot/boot_file.h"
#include "boot/linux_loader.h"
#include "diskboot/disk_boot.h"
#include "diskboot/loader_prompt.h"
#include "diskboot/sandboxed_load.h"
#include "common/error.h"
#include "common/config_values.h"
#include "platform/memory_split.h"
#include "vm/vm_object.h"

namespace {

using khyve::Error;

void usage(FILE* f) {
    std::fprintf(f,
                 "usage: bhyveload [-S] [-c cons-dev] [-d disk-path] [-e name=value]\n"
                 "                 [-h host-path] [-m mem-size] [-M highmem-size] vmname\n"
                 "Linux guests from the host: -h DIR -e kernel=PATH [-e initrd=PATH] "
                 "[-e cmdline=\"...\"]\n");
}

std::string resolve(const std::string& host_dir, const std::string& path) {
    if (path.empty() || path[0] == '/' || host_dir.empty()) return path;
    return host_dir + "/" + path;
}

struct Options {
    std::optional<uint64_t> memory, highmem;
    std::string host_dir, disk, console;
    std::map<std::string, std::string> env;
    std::string name;
};

Options parse(int argc, char** argv) {
    Options o;
    int c;
    opterr = 0;
    while ((c = getopt(argc, argv, ":c:Cd:e:h:l:m:M:S")) != -1) {
        switch (c) {
            case 'c': o.console = optarg; break;
            case 'C': break;  // guest memory in core dumps: nothing to do here
            case 'S': break;  // wired memory: bhyve -S decides
            case 'd': o.disk = optarg; break;
            case 'h': o.host_dir = optarg; break;
            case 'l': throw Error("-l (alternate loader) is not supported: khyve loads Linux itself");
            case 'e': {
                std::string kv = optarg;
                auto eq = kv.find('=');
                if (eq == 0 || eq == std::string::npos)
                    throw Error("-e wants name=value, got '" + kv + "'");
                o.env[kv.substr(0, eq)] = kv.substr(eq + 1);
                break;
            }
            case 'm':
                o.memory = khyve::parse_memsize(optarg);
                if (!o.memory || *o.memory == 0) throw Error(std::string("-m: invalid memory size '") + optarg + "'");
                break;
            case 'M':
                o.highmem = khyve::parse_memsize(optarg);
                if (!o.highmem) throw Error(std::string("-M: invalid memory size '") + optarg + "'");
                break;
            case ':': throw Error(std::string("option -") + char(optopt) + " needs a value");
            default: throw Error(std::string("unknown option -") + char(optopt));
        }
    }
    if (optind != argc - 1) throw Error("exactly one VM name is required");
    o.name = argv[optind];
    return o;
}

int place(const Options& o, const khyve::LinuxBootSpec& spec, khyve::MemorySplit split);

// One second of waiting for a key on a terminal, in non-canonical mode.
bool wait_key_1s() {
    termios saved;
    bool tty = ::tcgetattr(0, &saved) == 0;
    if (tty) {
        termios raw = saved;
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO);
        ::tcsetattr(0, TCSANOW, &raw);
    }
    pollfd p{0, POLLIN, 0};
    bool key = ::poll(&p, 1, 1000) > 0;
    if (key) {
        char c;
        if (::read(0, &c, 1) < 0) key = false;
    }
    if (tty) ::tcsetattr(0, TCSANOW, &saved);
    return key;
}

// bhyveload -d: the kernel, initrd and command line come from the guest's
// disk (extlinux, loader entries or Debian's links), through the loader
// prompt; -e kernel=/initrd= name files inside that filesystem, -e cmdline=
// replaces the command line.
// The disk is hostile: it is parsed in a sandboxed child that sees only the
// image (src/diskboot/sandboxed_load.h); `disk` is the image's name there.
khyve::diskboot::LoadedBoot parse_disk(const Options& o, const std::string& disk) {
    auto choice = khyve::diskboot::scan_disk(disk);
    for (auto& e : choice.entries) {
        if (auto it = o.env.find("kernel"); it != o.env.end()) e.kernel_path = it->second;
        if (auto it = o.env.find("initrd"); it != o.env.end()) {
            e.initrd_path = it->second;
            e.extra_initrd_paths.clear();
        }
        if (auto it = o.env.find("cmdline"); it != o.env.end()) e.cmdline = it->second;
    }
    bool tty = ::isatty(0);
    khyve::diskboot::PromptIo io{std::cin, std::cout, tty ? std::function<bool()>(wait_key_1s) : nullptr,
                                 [&](unsigned part, const std::string& path) {
                                     return khyve::diskboot::list_guest_dir(disk, part, path);
                                 }};
    int countdown = choice.timeout_seconds >= 0 ? choice.timeout_seconds : 3;
    auto outcome = khyve::diskboot::run_loader_prompt(choice, io, tty ? countdown : -1);
    if (!outcome.boot) throw Error("quit at the loader prompt: nothing loaded");
    return khyve::diskboot::load_boot_entry(disk, outcome.entry);
}

void load_from_disk(const Options& o, khyve::LinuxBootSpec& spec) {
    auto boot = khyve::diskboot::load_sandboxed(o.disk, [&](const std::string& disk) { return parse_disk(o, disk); });
    spec.kernel = std::move(boot.kernel);
    spec.initrd = std::move(boot.initrd);
    spec.cmdline = boot.cmdline;
}

int run(int argc, char** argv) {
    Options o = parse(argc, argv);
    khyve::VmObject::check_name(o.name);
    auto split = khyve::split_memory(o.memory.value_or(256ull << 20), o.highmem);
    khyve::LinuxBootSpec spec;
    spec.lowmem = split.lowmem;
    spec.highmem = split.highmem;
    if (!o.disk.empty()) {
        load_from_disk(o, spec);
        return place(o, spec, split);
    }
    auto kernel_it = o.env.find("kernel");
    if (kernel_it == o.env.end())
        throw Error("no kernel given: use -h DIR -e kernel=PATH (or -e kernel=/abs/path)");
    for (const auto& [k, v] : o.env)
        if (k != "kernel" && k != "initrd" && k != "cmdline")
            std::fprintf(stderr, "bhyveload: ignoring unknown variable %s\n", k.c_str());

    spec.kernel = khyve::read_boot_file(resolve(o.host_dir, kernel_it->second), "kernel");
    if (auto it = o.env.find("initrd"); it != o.env.end() && !it->second.empty())
        spec.initrd = khyve::read_boot_file(resolve(o.host_dir, it->second), "initrd");
    if (auto it = o.env.find("cmdline"); it != o.env.end()) spec.cmdline = it->second;
    return place(o, spec, split);
}

// Creates (or re-initialises) the VM object and writes the guest into it.
int place(const Options& o, const khyve::LinuxBootSpec& spec, khyve::MemorySplit split) {
    bool existed = khyve::VmObject::exists(o.name);
    try {
        auto vm = khyve::VmObject::create_or_reinit(o.name, split.lowmem, split.highmem);
        auto mem = vm.map_memory();
        auto state = khyve::load_linux(mem, spec);
        vm.write_boot_state(state.serialize());
    } catch (...) {
        // Never leave a half-created VM behind.
        if (!existed && khyve::VmObject::exists(o.name)) {
            try {
                khyve::VmObject::destroy(o.name);
            } catch (...) {
            }
        }
        throw;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && (std::string(argv[1]) == "--help")) {
        usage(stdout);
        return 0;
    }
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bhyveload: %s\n", e.what());
        return khyve::kExitError;
    }
}
