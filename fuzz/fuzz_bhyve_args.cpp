// bhyve's command line: NUL-separated argv vectors -> parse_bhyve_args, then
// MachineConfig::from_tree. Either may throw khyve::Error; nothing else.
#include <string>
#include <vector>

#include "common/error.h"
#include "config/bhyve_options.h"
#include "config/machine_config.h"

using namespace khyve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::string> args{"bhyve"};
    std::string cur;
    for (size_t i = 0; i < size; ++i) {
        if (data[i] == 0) {
            args.push_back(cur);
            cur.clear();
        } else {
            cur += char(data[i]);
        }
    }
    if (!cur.empty()) args.push_back(cur);
    if (args.size() > 64) return 0;
    // -k reads a file: keep to regular files (no /dev/stdin, FIFOs, /proc).
    for (const auto& a : args)
        if (a.find("/dev") != std::string::npos || a.find("/proc") != std::string::npos ||
            a.find("/sys") != std::string::npos || a.find("fd/") != std::string::npos)
            return 0;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    try {
        BhyveArgs parsed = parse_bhyve_args(int(args.size()), argv.data());
        if (parsed.usage_requested || !parsed.help_text.empty()) return 0;
        MachineConfig cfg = MachineConfig::from_tree(parsed.tree);
        (void)cfg;
    } catch (const Error&) {
    }
    return 0;
}
