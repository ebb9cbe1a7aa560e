// bhyve's command line. As in bhyve, flags only write keys of a ConfigTree
// (see bhyve_config(5)); MachineConfig::from_tree interprets them. Options are
// read in order, so a later flag, -o or -k overrides an earlier one.
#pragma once

#include <string>

#include "config/config_tree.h"

namespace khyve {

struct BhyveArgs {
    ConfigTree tree;
    bool usage_requested = false;  // -h: print bhyve_usage() to stdout, exit 0
    std::string help_text;         // -s help / -l help: print it, exit 0
};

// Throws Error (one line naming the flag or key) on a bad command line.
// With -h, -s help or -l help it returns at once without needing a VM name.
BhyveArgs parse_bhyve_args(int argc, char** argv);

std::string bhyve_usage();

}  // namespace khyve
