// Where the pages of a VM object's RAM file come from.
//
// Guest RAM is a file so that bhyveload and bhyve (two processes) share it.
// On an ordinary tmpfs or devtmpfs that file is made of 4 KiB pages, and
// every one of them costs the guest a nested page fault; with 2 MiB pages
// KVM maps guest memory with large page-table entries and the guest boots
// much faster (docs/PERFORMANCE.md). Distributions leave shmem huge pages
// off system-wide (shmem_enabled=never), but a tmpfs mounted with
// huge=within_size gets them regardless. So bhyveload mounts a small tmpfs of
// its own on each VM object directory it creates, sized for the guest's RAM;
// where it may not mount (no privilege, no THP), the object stays a plain
// directory and the mapping asks for huge pages with MADV_HUGEPAGE, which
// shmem honours when shmem_enabled is "advise".
#pragma once

#include <cstdint>
#include <string>

namespace khyve::ram_backing {

// false when $KHYVE_VMM_HUGE is "0": keep VM objects plain directories.
bool mount_wanted();

// Bytes of tmpfs a VM object with this much RAM needs: the RAM, rounded up to
// whole huge pages, plus room for its small files.
uint64_t mount_size(uint64_t ram_bytes);

// Mounts a huge-page tmpfs on dir, which the caller has just created (so it
// is empty and its own). Returns false, leaving dir alone, if the system
// refuses.
bool mount_huge(const std::string& dir, uint64_t ram_bytes);

// true if dir is a mount point made by mount_huge() (not one of the user's).
bool is_own_mount(const std::string& dir);

// Re-sizes an own mount for a new amount of RAM (the RAM file must already
// be empty). Returns false if the system refuses.
bool resize(const std::string& dir, uint64_t ram_bytes);

// Detaches an own mount on dir, if any; its files go with the last user.
void unmount(const std::string& dir);

}  // namespace khyve::ram_backing
