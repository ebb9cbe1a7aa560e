// A FreeBSD-loader-like "OK" prompt over boot entries, as pure logic over
// streams so it can be tested and driven by a script:
//   boot [n|label]   boot the selected (or n-th, 1-based) entry
//   ls [path]        list a directory on the selected entry's filesystem
//   show [var]       entries and the kernel/initrd/cmdline that would boot
//   set var=value    override kernel, initrd or cmdline; set entry=n selects
//   unset var        drop an override
//   quit             leave without booting
// End of input boots the selected entry. When input is a terminal the
// caller passes wait_key and the prompt first counts down, booting the
// default unless a key is pressed. Text from the guest (labels, paths, file
// names) is printed with control characters replaced.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "diskboot/disk_boot.h"

namespace khyve::diskboot {

struct PromptIo {
    std::istream& in;
    std::ostream& out;
    // Waits up to one second for a key; true if one was pressed. Null when
    // input is not a terminal (no countdown: commands are read directly).
    std::function<bool()> wait_key_1s;
    // Directory listing for `ls` on partition `partition`; throws Error.
    std::function<std::vector<std::string>(unsigned partition, const std::string& path)> list_dir;
};

struct PromptOutcome {
    bool boot = false;  // false: the operator quit
    BootEntry entry;    // with any overrides applied
};

// autoboot_seconds < 0: no countdown even on a terminal.
PromptOutcome run_loader_prompt(const DiskBootChoice& choice, PromptIo io, int autoboot_seconds);

}  // namespace khyve::diskboot
