// Boot configuration parsing (bhyveload -d) on hostile text: extlinux.conf /
// syslinux.cfg, BLS entries with loader.conf and their ordering, and the
// loader prompt's command reader over a fixed menu. None of these may throw
// (except Error from the prompt's ls callback, which it must catch), and
// their results must respect the documented bounds.
#include <fuzzer/FuzzedDataProvider.h>

#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "diskboot/bls_config.h"
#include "diskboot/loader_prompt.h"
#include "diskboot/syslinux_config.h"

using namespace khyve;
using namespace khyve::diskboot;

namespace {

void check(const ParsedConfig& c) {
    if (c.entries.size() > kMaxEntries) __builtin_trap();
    if (!c.entries.empty() && c.default_index >= c.entries.size()) __builtin_trap();
    for (const auto& e : c.entries)
        if (e.initrds.size() > kMaxInitrds) __builtin_trap();
}

DiskBootChoice menu() {
    DiskBootChoice c;
    c.entries.push_back({"Debian 6.1", "/boot/vmlinuz-6.1", "/boot/initrd-6.1", "root=/dev/vda1 ro", 1, "bls", {}});
    c.entries.push_back({"rescue\x1b[2J", "/vmlinuz", "", "single", 2, "extlinux", {"/ucode", "/x"}});
    c.entries.push_back({"old", "/boot/vmlinuz-5.10", "/boot/initrd-5.10", "", 1, "debian", {}});
    c.default_index = 2;
    c.timeout_seconds = 5;
    return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    switch (in.ConsumeIntegralInRange(0, 2)) {
        case 0: {
            const std::string text = in.ConsumeRemainingBytesAsString();
            check(parse_syslinux(text));
            break;
        }
        case 1: {
            std::vector<BlsEntry> entries;
            const unsigned n = in.ConsumeIntegralInRange(0, 6);
            for (unsigned i = 0; i < n; ++i) {
                const std::string name = in.ConsumeRandomLengthString(64);
                const std::string text = in.ConsumeRandomLengthString(4096);
                BlsEntry e;
                std::string why;
                if (parse_bls_entry(text, name, e, &why)) {
                    if (e.entry.initrds.size() > kMaxInitrds) __builtin_trap();
                    entries.push_back(std::move(e));
                }
            }
            const LoaderConf lc = parse_loader_conf(in.ConsumeRemainingBytesAsString());
            const size_t had = entries.size();
            const ParsedConfig c = order_bls_entries(std::move(entries), lc);
            if (c.entries.size() != had) __builtin_trap();
            check(c);
            break;
        }
        default: {
            const bool fail_ls = in.ConsumeBool();
            std::istringstream cmds(in.ConsumeRemainingBytesAsString());
            std::ostringstream out;
            PromptIo io{cmds, out, nullptr,
                        [fail_ls](unsigned, const std::string& path) -> std::vector<std::string> {
                            if (fail_ls) throw Error("no such directory: " + path);
                            return {"vmlinuz", "boot/", "initrd.img@", path};
                        }};
            const DiskBootChoice c = menu();
            const PromptOutcome o = run_loader_prompt(c, io, -1);
            // Guest text is printed with control characters replaced.
            if (out.str().find('\x1b') != std::string::npos) __builtin_trap();
            (void)o;
            break;
        }
    }
    return 0;
}
