// Finding boot entries of one kind on one guest filesystem, and checking
// that the files they name exist there. Entries whose kernel or initrd is
// missing are dropped with a note.
#pragma once

#include <string>
#include <vector>

#include "diskboot/disk_boot.h"
#include "diskboot/ext_fs.h"

namespace khyve::diskboot {

// First of /boot/extlinux/extlinux.conf, /extlinux/extlinux.conf,
// /boot/syslinux/syslinux.cfg, /syslinux/syslinux.cfg; relative paths
// resolve from the configuration file's directory.
DiskBootChoice find_extlinux(const ExtFs& fs);

// /loader/entries/*.conf and /boot/loader/entries/*.conf with
// /loader/loader.conf or /boot/loader/loader.conf. Entry paths are from the
// filesystem root; for entries under /boot/loader a missing path is retried
// with a /boot prefix (a /boot that is not a separate filesystem).
DiskBootChoice find_bls(const ExtFs& fs);

// /vmlinuz + /initrd.img (and /boot/..., and the .old pair), else the
// newest vmlinuz-VERSION in /boot or / with its initrd.img-VERSION,
// initramfs-VERSION.img or initrd-VERSION(.img). A target under /boot/ that
// is missing here is looked for in `boot_filesystems` without the prefix (a
// separate /boot). The command line is "root=<root_device> ro console=ttyS0".
DiskBootChoice find_debian(const ExtFs& fs, const std::vector<const ExtFs*>& boot_filesystems,
                           const std::string& root_device);

}  // namespace khyve::diskboot
