#include "config/bhyve_options.h"

#include <cctype>
#include <set>
#include <string_view>

#include "common/error.h"
#include "common/config_values.h"
#include "config/machine_config.h"
#include "config/vm_name.h"
#include "platform/pci_emulation.h"

namespace khyve {
namespace {

constexpr std::string_view kFlagsWithArgument = "cfgGkKlmMnoprstUz";
constexpr unsigned kComPorts = 4;

std::string flag_name(char c) { return std::string("-") + c; }

std::pair<std::string_view, std::string_view> split_once(std::string_view s, char sep) {
    size_t at = s.find(sep);
    if (at == std::string_view::npos) return {s, {}};
    return {s.substr(0, at), s.substr(at + 1)};
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// "slot", "slot:function" or "bus:slot:function", decimal.
std::optional<PciAddress> parse_pci_slot(std::string_view text) {
    unsigned parts[3];
    size_t n = 0;
    while (true) {
        auto [head, tail] = split_once(text, ':');
        if (n == 3) return std::nullopt;
        auto v = parse_decimal(head, 255);
        if (!v) return std::nullopt;
        parts[n++] = unsigned(*v);
        if (tail.data() == nullptr) break;
        text = tail;
    }
    PciAddress a;
    if (n == 1) a.slot = parts[0];
    if (n == 2) a.slot = parts[0], a.function = parts[1];
    if (n == 3) a.bus = parts[0], a.slot = parts[1], a.function = parts[2];
    return a;
}

// The legacy `-S slot,emulation` form is told apart from `-S` (wire memory)
// by its shape: digits and colons, then a comma. A VM name cannot contain one.
bool looks_like_slot_spec(std::string_view s) {
    size_t comma = s.find(',');
    if (comma == std::string_view::npos || comma == 0) return false;
    for (char c : s.substr(0, comma))
        if (!(c >= '0' && c <= '9') && c != ':') return false;
    return true;
}

std::string addr_node(const PciAddress& a) {
    return "pci." + std::to_string(a.bus) + "." + std::to_string(a.slot) + "." + std::to_string(a.function);
}

class Parser {
public:
    explicit Parser(BhyveArgs& out) : out_(out), tree_(out.tree) {}

    void defaults() {
        // bhyve's set_defaults(): the keys every machine has.
        tree_.set_bool("acpi_tables", false);
        tree_.set("memory.size", "256M");
        tree_.set_bool("x86.strictmsr", true);
    }

    // Returns false when parsing should stop (-h, -s help, -l help).
    bool flag(char c) {
        switch (c) {
            case 'a': tree_.set_bool("x86.x2apic", false); break;
            case 'A': tree_.set_bool("acpi_tables", true); break;
            case 'b': break;  // bvmconsole: FreeBSD-kernel-only debug console
            case 'B': break;  // old bhyve: inject a breakpoint at entry
            case 'C': tree_.set_bool("memory.guest_in_core", true); break;
            case 'D': tree_.set_bool("destroy_on_poweroff", true); break;
            case 'e': tree_.set_bool("x86.strictio", true); break;
            case 'h': out_.usage_requested = true; return false;
            case 'H': tree_.set_bool("x86.vmexit_on_hlt", true); break;
            case 'I': break;  // an IOAPIC is always present
            case 'P': tree_.set_bool("x86.vmexit_on_pause", true); break;
            case 'S': tree_.set_bool("memory.wired", true); break;
            case 'u': tree_.set_bool("rtc.use_localtime", false); break;
            case 'w': tree_.set_bool("x86.strictmsr", false); break;
            case 'W': tree_.set_bool("virtio_msix", false); break;
            case 'x': tree_.set_bool("x86.x2apic", true); break;
            case 'Y': tree_.set_bool("x86.mptable", false); break;
            default: throw Error("unknown option " + flag_name(c) + " (see bhyve -h)");
        }
        return true;
    }

    bool option(char c, std::string_view arg) {
        switch (c) {
            case 'c': topology(arg); break;
            case 'f':
                throw Error("-f: fw_cfg files are not supported (they serve boot ROMs; boot Linux with bhyveload)");
            case 'g': tree_.set("gdb.port", port(c, arg)); break;
            case 'G': gdb(arg); break;
            case 'k': tree_.load_file(std::string(arg)); break;
            case 'K': tree_.set("keyboard.layout", arg); break;
            case 'l':
                if (arg == "help") {
                    out_.help_text = "com1\ncom2\ncom3\ncom4\n";
                    return false;
                }
                lpc(arg);
                break;
            case 'm': tree_.set("memory.size", memsize(c, arg)); break;
            case 'M': tree_.set("memory.highmem", memsize(c, arg)); break;
            case 'o':
                try {
                    tree_.set_option(arg);
                } catch (const Error& e) {
                    throw Error(std::string("-o: ") + e.what());
                }
                break;
            case 'n': numa(arg); break;
            case 'p': pin(arg); break;
            case 'r': throw Error("-r: restoring a snapshot is not supported yet");
            case 's':
                if (arg == "help") {
                    out_.help_text = pci_emulation_help();
                    return false;
                }
                slot(c, arg);
                break;
            case 't':  // old bhyve: vCPU multiplexing timeslice in Hz
            case 'z':  // old bhyve: guest timer Hz
                if (!parse_decimal(arg, 1000000))
                    throw Error(flag_name(c) + ": invalid number '" + std::string(arg) + "'");
                break;
            case 'U': uuid(arg); break;
            default: throw Error("unknown option " + flag_name(c));
        }
        return true;
    }

    void slot(char c, std::string_view arg) {
        auto [slot_text, rest] = split_once(arg, ',');
        auto addr = parse_pci_slot(slot_text);
        if (!addr)
            throw Error(flag_name(c) + ": invalid pci slot '" + std::string(slot_text) +
                        "' (use slot, slot:function or bus:slot:function)");
        if (addr->slot > 31 || addr->function > 7)
            throw Error(flag_name(c) + ": pci slot '" + std::string(slot_text) +
                        "' is out of range (bus 0-255, slot 0-31, function 0-7)");
        auto [emulation, conf] = split_once(rest, ',');
        if (emulation.empty())
            throw Error(flag_name(c) + ": no emulation given for pci slot " + pci_address_text(*addr));
        if (used_.count(*addr) || tree_.has_node(addr_node(*addr)))
            throw Error("pci slot " + pci_address_text(*addr) + " is used twice");
        const PciEmulation& entry = find_pci_emulation(emulation);
        used_.insert(*addr);

        if (emulation == "uart") {
            legacy_uart(*addr, conf);
            return;
        }
        std::string node = addr_node(*addr);
        tree_.set(node + ".device", emulation);
        device_conf(node, entry.positional, conf);
    }

    ConfigTree& tree() { return tree_; }

private:
    // bhyve's legacy conf strings: an optional bare first word for the
    // device's main key, then key=value pairs, then bare words as booleans.
    void device_conf(const std::string& node, std::string_view positional, std::string_view conf) {
        bool first = true;
        while (conf.data() != nullptr) {
            auto [token, rest] = split_once(conf, ',');
            conf = rest;
            if (token.empty()) {
                first = false;
                continue;
            }
            auto [key, value] = split_once(token, '=');
            if (first && !positional.empty() && value.data() == nullptr)
                tree_.set(node + "." + std::string(positional), token);
            else if (value.data() == nullptr)
                tree_.set(node + "." + std::string(token), "true");
            else if (key.empty())
                throw Error("pci device " + node + ": option '" + std::string(token) + "' has no name");
            else
                tree_.set(node + "." + std::string(key), value);
            first = false;
        }
    }

    // A uart in a PCI slot (the form of the old bhyve manual, `-S 31,uart,stdio`)
    // becomes the next free COM port of the LPC bridge: COM1 for the first.
    void legacy_uart(const PciAddress& addr, std::string_view conf) {
        for (unsigned i = 1; i <= kComPorts; ++i) {
            std::string node = "lpc.com" + std::to_string(i);
            if (tree_.has_node(node)) continue;
            tree_.set(node + ".path", conf.data() ? conf : std::string_view());
            return;
        }
        throw Error("uart at pci slot " + pci_address_text(addr) + ": all four COM ports are in use");
    }

    void lpc(std::string_view arg) {
        auto [dev, conf] = split_once(arg, ',');
        std::string name = lower(dev);
        if (name == "bootrom") throw Error("UEFI boot ROMs are not supported; boot Linux with bhyveload");
        if (name.size() == 4 && name.compare(0, 3, "com") == 0 && name[3] >= '1' && name[3] <= '4') {
            tree_.set("lpc." + name + ".path", conf.data() ? conf : std::string_view());
            return;
        }
        if (name == "tpm" || name == "fwcfg" || name == "pc-testdev")
            throw Error("-l: LPC device '" + name + "' is not supported by khyve (com1-com4 are)");
        throw Error("-l: unknown LPC device '" + std::string(dev) + "' (com1-com4)");
    }

    void topology(std::string_view arg) {
        if (arg.empty()) {
            for (auto k : {"cpus", "sockets", "cores", "threads"}) tree_.set(k, "1");
            return;
        }
        while (arg.data() != nullptr) {
            auto [token, rest] = split_once(arg, ',');
            arg = rest;
            auto [key, value] = split_once(token, '=');
            std::string k = value.data() ? std::string(key) : "cpus";
            std::string_view v = value.data() ? value : token;
            if (k != "cpus" && k != "sockets" && k != "cores" && k != "threads")
                throw Error("-c: invalid cpu topology setting '" + std::string(token) + "'");
            if (!parse_decimal(v, 65535) || v == "0")
                throw Error("-c: invalid " + k + " '" + std::string(v) + "'");
            tree_.set(k, v);
        }
    }

    std::string port(char c, std::string_view arg) {
        if (!parse_decimal(arg, 65535))
            throw Error(flag_name(c) + ": invalid port '" + std::string(arg) + "' (0-65535)");
        return std::string(arg);
    }

    void gdb(std::string_view arg) {
        if (!arg.empty() && arg.front() == 'w') {
            tree_.set_bool("gdb.wait", true);
            arg.remove_prefix(1);
        }
        size_t colon = arg.rfind(':');
        if (colon != std::string_view::npos) {
            if (colon == 0) throw Error("-G: empty bind address in '" + std::string(arg) + "'");
            tree_.set("gdb.address", arg.substr(0, colon));
            arg.remove_prefix(colon + 1);
        }
        tree_.set("gdb.port", port('G', arg));
    }

    std::string memsize(char c, std::string_view arg) {
        if (!parse_memsize(arg))
            throw Error(flag_name(c) + ": invalid memory size '" + std::string(arg) + "'");
        return std::string(arg);
    }

    // -p vcpu:hostcpu, repeatable; a vCPU pinned more than once may run on
    // any of its host CPUs (bhyve's vcpu.N.cpuset list). Old bhyve's plain
    // -p N pins vCPU i to host CPU N+i.
    void pin(std::string_view arg) {
        auto [vcpu_text, host_text] = split_once(arg, ':');
        if (host_text.data() == nullptr) {
            if (!parse_decimal(arg, MachineConfig::kMaxHostCpu))
                throw Error("-p: invalid vcpu pinning '" + std::string(arg) + "' (use vcpu:hostcpu)");
            tree_.set("pincpu", arg);
            return;
        }
        auto vcpu = parse_decimal(vcpu_text, 65535);
        auto host = parse_decimal(host_text, MachineConfig::kMaxHostCpu);
        if (!vcpu || !host)
            throw Error("-p: invalid vcpu pinning '" + std::string(arg) + "' (use vcpu:hostcpu, host cpu 0-" +
                        std::to_string(MachineConfig::kMaxHostCpu) + ")");
        std::string key = "vcpu." + std::to_string(*vcpu) + ".cpuset";
        auto prev = tree_.get_raw(key);
        tree_.set(key, prev ? *prev + "," + std::to_string(*host) : std::to_string(*host));
    }

    // -n id,size,cpus[,domain_policy] (bhyve's guest NUMA domains), or the
    // same as id=N,size=SIZE,cpus=SET[,domain_policy=P]; a cpu set's own
    // commas continue it ("cpus=0,2"). Read into numa.<id>.*; what khyve
    // can give is decided with the rest of the configuration.
    void numa(std::string_view arg) {
        static constexpr std::string_view kFields[] = {"id", "size", "cpus", "domain_policy"};
        std::string values[4];
        bool named = arg.find('=') != std::string_view::npos;
        size_t field = 0;
        std::string_view rest = arg;
        while (true) {
            auto [token, tail] = split_once(rest, ',');
            if (named) {
                auto [key, value] = split_once(token, '=');
                if (value.data() == nullptr) {
                    // "cpus=0,2": a bare item after cpus= continues it.
                    if (field != 2 || values[2].empty())
                        throw Error("-n: '" + std::string(token) + "' is not KEY=VALUE (id, size, cpus, domain_policy)");
                    values[2] += "," + std::string(token);
                } else {
                    field = 0;
                    while (field < 4 && kFields[field] != key) ++field;
                    if (field == 4)
                        throw Error("-n: unknown key '" + std::string(key) + "' (id, size, cpus, domain_policy)");
                    values[field] = value;
                }
            } else {
                if (field == 4)
                    throw Error("-n: too many fields in '" + std::string(arg) + "' (id,size,cpus[,domain_policy])");
                values[field++] = token;
            }
            if (tail.data() == nullptr) break;
            rest = tail;
        }
        if (values[0].empty() || values[1].empty() || values[2].empty())
            throw Error("-n: '" + std::string(arg) + "' needs id, size and cpus (-n id=0,size=256M,cpus=0-1)");
        if (!parse_decimal(values[0], 7)) throw Error("-n: domain id '" + values[0] + "' is not 0-7");
        if (!parse_memsize(values[1])) throw Error("-n: invalid memory size '" + values[1] + "'");
        const std::string node = "numa." + values[0];
        if (tree_.has(node + ".size")) throw Error("-n: domain " + values[0] + " is given twice");
        tree_.set(node + ".size", values[1]);
        tree_.set(node + ".cpus", values[2]);
        if (!values[3].empty()) tree_.set(node + ".domain_policy", values[3]);
    }

    void uuid(std::string_view arg) {
        if (!is_valid_uuid(arg)) throw Error("-U: invalid uuid '" + std::string(arg) + "'");
        tree_.set("uuid", arg);
    }

    BhyveArgs& out_;
    ConfigTree& tree_;
    std::set<PciAddress> used_;
};

}  // namespace

BhyveArgs parse_bhyve_args(int argc, char** argv) {
    BhyveArgs out;
    Parser p(out);
    p.defaults();

    // POSIX getopt rules: flags may be grouped (-AHP), an argument may be
    // attached (-m1G) or follow, and the first non-option ends the options.
    int i = 1;
    for (; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a.size() < 2 || a[0] != '-') break;
        for (size_t j = 1; j < a.size(); ++j) {
            char c = a[j];
            std::string_view attached = a.substr(j + 1);
            if (c == 'S') {
                // -S is "wire memory" in today's bhyve and "legacy slot" in
                // the original manual; the argument's shape decides.
                if (looks_like_slot_spec(attached)) {
                    p.slot('S', attached);
                    break;
                }
                if (attached.empty() && i + 1 < argc && looks_like_slot_spec(argv[i + 1])) {
                    p.slot('S', argv[++i]);
                    break;
                }
            }
            if (kFlagsWithArgument.find(c) != std::string_view::npos) {
                std::string_view arg;
                if (!attached.empty())
                    arg = attached;
                else if (i + 1 < argc)
                    arg = argv[++i];
                else
                    throw Error("option " + flag_name(c) + " requires an argument");
                if (!p.option(c, arg)) return out;
                break;
            }
            if (!p.flag(c)) return out;
        }
    }

    if (argc - i > 1)
        throw Error("unexpected argument '" + std::string(argv[i + 1]) + "' after the VM name '" + argv[i] +
                    "' (options go before the name)");
    if (argc - i == 1) {
        check_vm_name(argv[i]);
        p.tree().set("name", argv[i]);
    }
    if (!p.tree().has("name")) throw Error("missing VM name (see bhyve -h)");
    return out;
}

std::string bhyve_usage() {
    return "Usage: bhyve [-AaCDeHhIPSuWwxY]\n"
           "             [-c [[cpus=]numcpus][,sockets=n][,cores=n][,threads=n]]\n"
           "             [-G [w][bind_address:]port] [-g port] [-k config_file] [-l lpcdev[,conf]]\n"
           "             [-m memsize[K|k|M|m|G|g|T|t]] [-M highmem] [-n id,size,cpus] [-o var=value]\n"
           "             [-p vcpu:hostcpu] [-s slot,emulation[,conf]] [-U uuid] vmname\n"
           "       bhyve -l help\n"
           "       bhyve -s help\n"
           "       -A: create ACPI tables\n"
           "       -a: local APIC is in xAPIC mode (no x2APIC)\n"
           "       -C: include guest memory in core file (accepted; no effect)\n"
           "       -c: number of CPUs and/or topology specification\n"
           "       -D: destroy the VM on power-off\n"
           "       -e: exit on unhandled I/O access\n"
           "       -G: start a GDB debug server; -g port: the same, on 127.0.0.1\n"
           "       -H: vmexit from the guest on HLT\n"
           "       -h: help\n"
           "       -I: IOAPIC (always present; accepted)\n"
           "       -k: key=value flat config file\n"
           "       -l: LPC device configuration (com1..com4)\n"
           "       -M: high memory size (above 4 GiB); -m is then the low memory\n"
           "       -m: memory size (a plain number is in MB)\n"
           "       -n: NUMA domain (one, holding all memory and vCPUs)\n"
           "       -o: set config 'var' to 'value'\n"
           "       -P: vmexit from the guest on PAUSE\n"
           "       -p: pin 'vcpu' to 'hostcpu'\n"
           "       -S: wire (mlock) guest memory; -S slot,uart,conf: COM port (old form)\n"
           "       -s: <slot,driver,configinfo> PCI slot config\n"
           "       -U: UUID\n"
           "       -u: RTC keeps UTC time\n"
           "       -W: force virtio to use single-vector MSI\n"
           "       -w: ignore unimplemented MSRs\n"
           "       -x: local APIC is in x2APIC mode\n"
           "       -Y: disable MPtable generation\n"
           "       see bhyve(8) and bhyve_config(5)\n";
}

}  // namespace khyve
