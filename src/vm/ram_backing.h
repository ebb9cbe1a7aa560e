// Where the pages of the VM objects' RAM files come from.
//
// Guest RAM is a file so that bhyveload and bhyve (two processes) share it.
// On an ordinary tmpfs or devtmpfs that file is made of 4 KiB pages, and
// every one of them costs the guest a nested page fault; with 2 MiB pages
// KVM maps guest memory with large page-table entries and the guest boots
// much faster (docs/PERFORMANCE.md). Distributions leave shmem huge pages
// off system-wide (shmem_enabled=never), but a tmpfs mounted with
// huge=within_size gets them regardless. So when bhyveload creates the VM
// object directory ($KHYVE_VMM_DIR, default /dev/vmm) it mounts such a tmpfs
// on it; where it may not (no privilege, no THP), the directory stays as it
// is and the mappings ask for huge pages with MADV_HUGEPAGE, which shmem
// honours when shmem_enabled is "advise". One mount for all VMs: removing a
// VM then needs no unmount, which bhyve -D's sandbox could not do.
#pragma once

#include <string>

namespace khyve::ram_backing {

// false when $KHYVE_VMM_HUGE is "0": leave the VM object directory alone.
bool mount_wanted();

// Mounts a huge-page tmpfs on dir, which the caller has just created (so it
// is empty and its own). Returns false, leaving dir alone, if the system
// refuses or mount_wanted() is false.
bool mount_huge(const std::string& dir);

// true if dir is a mount point made by mount_huge() (not one of the user's).
bool is_own_mount(const std::string& dir);

// Detaches an own mount on dir, if any (tests; khyve itself never unmounts).
void unmount(const std::string& dir);

}  // namespace khyve::ram_backing
