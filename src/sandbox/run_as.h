// Jailer-style privilege drop for bhyve (-o khyve.user=USER, khyve.chroot=DIR):
// once the VMM has opened /dev/kvm, its disks, taps and control socket as
// root, the main thread takes the unprivileged user's ids and, optionally, a
// new root; every thread started afterwards (vCPUs, device workers, the
// control and console threads) inherits them.
#pragma once

#include <sys/types.h>

#include <string>

namespace khyve {

struct RunAs {
    bool change_ids = false;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string chroot;  // empty: keep the root
};

// USER is a name from `passwd_text` (the /etc/passwd format: its uid and
// primary gid) or numeric "UID[:GID]" (GID defaults to UID); empty keeps the
// ids. Throws Error naming the problem (unknown user, uid 0, bad number).
RunAs parse_run_as(const std::string& user, const std::string& chroot, const std::string& passwd_text);

// The same, reading /etc/passwd only when USER is a name.
RunAs resolve_run_as(const std::string& user, const std::string& chroot);

// Applies it to the calling thread only (raw system calls, not glibc's
// process-wide wrappers, whose signal to every thread would hit the seccomp
// filters of threads that already run): chroot and chdir("/"), then the
// supplementary groups, the gid and the uid, real, effective and saved.
// Threads created by this thread afterwards inherit the result. Verifies the
// uid cannot be regained. Throws Error on any failure.
void become(const RunAs& r);

}  // namespace khyve
