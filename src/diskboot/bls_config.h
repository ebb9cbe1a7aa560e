// Boot Loader Specification type #1 entries (loader/entries/*.conf) and the
// parts of systemd-boot's loader.conf that choose among them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "diskboot/config_entry.h"

namespace khyve::diskboot {

struct BlsEntry {
    ConfigEntry entry;      // id = file name, label = title (or id)
    std::string version, machine_id, sort_key;
};

struct LoaderConf {
    std::string default_pattern;  // glob over entry ids; empty: none
    int timeout_seconds = -1;
};

// Returns false (with *why) for an entry that cannot boot here: no `linux`
// key, an EFI program, another architecture.
bool parse_bls_entry(std::string_view text, const std::string& file_name, BlsEntry& out, std::string* why);

LoaderConf parse_loader_conf(std::string_view text);

// systemd-boot's menu order: entries with a sort-key first (by sort-key,
// machine-id, then newest version), then the rest by file name, newest
// first. The default is the first entry whose id matches loader.conf's
// glob, else the first in that order.
ParsedConfig order_bls_entries(std::vector<BlsEntry> entries, const LoaderConf& loader);

}  // namespace khyve::diskboot
