// extlinux.conf / syslinux.cfg: LABEL blocks with KERNEL/LINUX, INITRD,
// APPEND, MENU LABEL, MENU DEFAULT; global DEFAULT, ONTIMEOUT, TIMEOUT and
// APPEND. Entries that chain to a COM32 module, a boot sector or local boot
// are not Linux kernels and are left out. INCLUDE is not followed.
#pragma once

#include <string_view>

#include "diskboot/config_entry.h"

namespace khyve::diskboot {

ParsedConfig parse_syslinux(std::string_view text);

}  // namespace khyve::diskboot
