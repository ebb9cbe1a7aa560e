// Image locks: QEMU's byte-range scheme on open file description locks, so a
// khyve and a QEMU (or two of either) exclude each other from an image the
// way two QEMUs do.
//
// QEMU (block/file-posix.c) describes what a user does with an image by
// permission bits (include/block/block-common.h, BLK_PERM_*) and takes, on
// the image's own fd, a shared (F_RDLCK) OFD lock on byte 100 + i for each
// bit i it holds and on byte 200 + i for each bit it does not let others
// hold. A newcomer first takes its own bytes, then tests (F_OFD_GETLK with
// F_WRLCK) byte 200 + i for each bit it wants and byte 100 + i for each bit
// it refuses to share: a lock found there is a conflict. Read locks never
// conflict with each other, so the bytes only ever meet the test.
//
// The locks live as long as the fd: they are taken once, at open, on the
// main thread before any seccomp filter, and no later fcntl is needed.
#pragma once

#include <cstdint>
#include <string>

namespace khyve {

namespace image_perm {
inline constexpr uint64_t kConsistentRead = 0x01;  // BLK_PERM_CONSISTENT_READ
inline constexpr uint64_t kWrite = 0x02;           // BLK_PERM_WRITE
inline constexpr uint64_t kWriteUnchanged = 0x04;  // BLK_PERM_WRITE_UNCHANGED
inline constexpr uint64_t kResize = 0x08;          // BLK_PERM_RESIZE
inline constexpr uint64_t kAll = 0x0f;             // BLK_PERM_ALL
}  // namespace image_perm

inline constexpr int kLockPermBase = 100;    // RAW_LOCK_PERM_BASE
inline constexpr int kLockSharedBase = 200;  // RAW_LOCK_SHARED_BASE

struct ImagePerms {
    uint64_t held = 0;
    uint64_t shared = image_perm::kAll;
};

// What QEMU's virtio-blk takes on a raw image or block device
// (blkconf_apply_backend_options with resizable, share-rw=off): consistent
// read, and write unless read-only; it shares consistent read, unchanged
// writes and resize, never write. So a writer excludes every other writer
// and reader, and a reader excludes writers.
ImagePerms guest_disk_perms(bool read_only);

// A qcow2 image's file read-only and its backing files: what QEMU takes on
// the file under a read-only qcow2 node and on a backing file (its metadata
// and COW children): consistent read, sharing neither write nor resize.
ImagePerms image_file_perms();

// Takes p's lock bytes on fd (an open of path) and tests for a conflicting
// user. Throws khyve::Error, one line naming the holder where /proc tells
// (OFD locks carry no pid), with every byte it took released again.
void lock_image(int fd, const std::string& path, const ImagePerms& p);

// The processes holding a lock on byte of the file fd is open on, found
// through /proc/PID/fdinfo: "pid 123 (qemu-io)", or "this process (pid 9,
// bhyve)" for another fd of ours, several joined with ", ", "" when none can
// be seen. fd itself is left out.
std::string image_lock_holders(int fd, int64_t byte);

}  // namespace khyve
