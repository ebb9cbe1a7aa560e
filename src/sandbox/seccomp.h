// Per-thread seccomp-bpf filters for a VMM whose guest is hostile: a guest
// that finds a bug in a device model owns the thread that runs it, and the
// filter bounds what that thread can then ask of the host kernel.
//
// Each thread installs its own filter, from the thread itself, once it has
// opened everything it needs (no SECCOMP_FILTER_FLAG_TSYNC: the threads have
// different needs). Filters are inherited by threads created afterwards and
// stack: a thread created by a filtered thread runs under both filters. The
// vCPU threads create the virtio worker threads (on DRIVER_OK), so the vCPU
// list is a superset of the device I/O list; a device I/O thread created by a
// vCPU thread still narrows itself with its own filter.
//
// What each kind may call, and why (anything else gets the FilterAction):
//
// Every kind (kBase in seccomp.cpp):
//   read write readv writev close    the fds the thread already holds: eventfds,
//                                    tap, console, sockets, stderr messages
//   mmap mprotect (never PROT_EXEC), munmap mremap brk madvise
//                                    malloc, thread stacks; no new code pages
//   futex set_robust_list rseq sched_yield
//                                    mutexes, condition variables, joins,
//                                    std::future (run_on_vcpu), thread start
//   sigaltstack sched_getaffinity    thread start/exit under ASan, and
//                                    pthread_getattr_np (both only read or
//                                    set the calling thread's own state)
//   pipe2 (sanitizer build only)     UBSan's vptr check probes memory with it
//   nanosleep clock_nanosleep clock_gettime gettimeofday clock_getres
//                                    timed waits; clock_gettime is a syscall when
//                                    the clocksource has no vDSO (nested KVM)
//   rt_sigreturn rt_sigprocmask restart_syscall
//                                    the vCPU kick signal and its handler
//   tgkill (own process only)        pthread_kill kicks, abort()
//   getpid gettid                    kicks, /proc/self/task/<tid> paths
//   exit exit_group                  thread and process end
//   fstat newfstatat, ioctl TCGETS   stdio's first use of a stream (isatty)
//   getrandom                        virtio-rng, libc hash seeding
//   seccomp, prctl(NO_NEW_PRIVS, GET_SECCOMP, CAPBSET_READ/DROP, CAP_AMBIENT)
//                                    a thread created under a filter installs
//                                    its own (filters only ever narrow)
//   capget capset                    drop_privileges() in such a thread (can
//                                    only lower what the thread has)
// DeviceIo (virtio workers, io_uring completion, block thread engine,
// console reader) adds:
//   epoll_wait epoll_pwait epoll_ctl poll ppoll
//                                    worker loops, console input
//   io_uring_enter                   submit and reap block I/O (the ring was
//                                    set up before, restricted to block ops:
//                                    block/uring_ring.h; io_uring_setup/register
//                                    are refused)
//   pread64 pwrite64 preadv pwritev preadv2 pwritev2 fdatasync fsync fallocate
//                                    the block thread engine, discard and
//                                    write-zeroes
//   sendmsg sendto recvfrom recvmsg accept4
//                                    virtio-net to a socket, virtio-console's
//                                    unix socket (accepting its one client)
//   ioctl KVM_IRQ_LINE KVM_SIGNAL_MSI
//                                    INTx and MSI raised from a worker
// Vcpu (KVM_RUN loop; runs every device model's register access) adds all
// of DeviceIo and:
//   clone (CLONE_THREAD only), clone3 -> ENOSYS so glibc falls back to clone
//                                    virtio activation starts a worker thread;
//                                    no process can be forked
//   epoll_create1 eventfd2           the new worker's epoll set and stop fd
//   ioctl KVM_RUN KVM_GET/SET_REGS KVM_GET/SET_SREGS KVM_GET/SET_LAPIC
//         KVM_GET/SET_MP_STATE       the vCPU loop and run_on_vcpu requests
//   ioctl KVM_SET_GSI_ROUTING (kvm_abi value) KVM_IRQFD KVM_IOEVENTFD
//                                    MSI-X table writes and BAR moves by the guest
//   ioctl TUNSETOFFLOAD              virtio-net feature negotiation
// Control (control socket server, main thread) adds:
//   poll ppoll accept4 recvfrom sendto recvmsg sendmsg shutdown
//                                    the control socket
//   getsockopt(SOL_SOCKET, SO_PEERCRED), geteuid
//                                    only root and the VM's owner are served
//   openat (read-only, no O_CREAT), lseek, pread64
//                                    /proc/self/task/<tid>/{schedstat,sched}
//                                    for stats, KVM binary stats fds
//   unlink unlinkat rmdir            removing the control and console sockets
//                                    at teardown, the VM object under -D
//   epoll_ctl io_uring_enter         device teardown (stop token, unwatch)
//   ioctl KVM_IRQ_LINE               ACPI power button (SCI) on SIGTERM/bhyvectl
//   ioctl KVM_GET_REGS KVM_GET_SREGS KVM_GET_MP_STATE
//                                    run_on_vcpu runs inline once a vCPU ended
//   ioctl KVM_IRQFD KVM_IOEVENTFD KVM_SET_GSI_ROUTING
//                                    unregistering MSI routes and ioeventfds
//                                    in the device destructors
//   ioctl TCGETS TCSETS TCSETSW TCSETSF
//                                    restoring the terminal at exit
// Gdb (the gdb stub's server thread, -g/-G; parses unauthenticated TCP
// input) adds only:
//   poll ppoll accept4 recvfrom sendto shutdown
//                                    the listening socket bound before the
//                                    thread starts, one connection at a time
//   setsockopt(IPPROTO_TCP, TCP_NODELAY), setsockopt(SOL_SOCKET, SO_SNDTIMEO)
//                                    each accepted connection
//   ioctl KVM_GET/SET_REGS KVM_GET_SREGS KVM_GET/SET_FPU KVM_SET_GUEST_DEBUG
//         KVM_TRANSLATE KVM_GET_MSRS KVM_GET_MP_STATE
//                                    run_on_vcpu runs inline once a vCPU ended
//   (no openat, no epoll, no block I/O, no clone)
// Loader (the bhyveload -d disk parser, a child process chrooted into its
// own /proc/self/fd: src/diskboot/sandboxed_load.h) adds:
//   openat (read-only) lseek pread64 preadv fcntl getuid geteuid getgid getegid
//   prctl(PR_GET_DUMPABLE) fsync fdatasync
//                                    libext2fs and the partition reader on the image
//   poll ppoll, ioctl TCSETS TCSETSW TCSETSF
//                                    the loader prompt on the terminal
//   ioctl BLKGETSIZE64 BLKSSZGET BLKBSZGET BLKROGET BLKDISCARDZEROES BLKALIGNOFF
//                                    an image that is a block device
// Refused everywhere, notably: execve(at), fork/vfork/clone without
// CLONE_THREAD, socket, connect, bind, open of files for writing, ptrace,
// process_vm_*, mount, setuid family, kill of other processes, io_uring_setup,
// bpf, perf_event_open, keyctl, personality, and every other ioctl.
#pragma once

#include <optional>
#include <string_view>

namespace khyve {

enum class ThreadKind { Vcpu, DeviceIo, Control, Gdb, Loader };

// What a call outside the allowlist gets.
enum class FilterAction {
    KillProcess,  // SIGSYS to the whole process: the default in production
    Eperm,        // the call fails with EPERM (debugging, tests)
    Log,          // allowed but logged by the kernel audit (finding what's missing)
    Trap,         // SIGSYS to the thread: bhyve names the syscall on one line, exits 4
};

// Whether this kernel can load filters with the kill-process action.
bool seccomp_supported();

// Builds the filter for `kind` and loads it on the calling thread only, after
// PR_SET_NO_NEW_PRIVS. Throws Error when the kernel refuses.
void install_thread_filter(ThreadKind kind, FilterAction action = FilterAction::KillProcess);

// Lowers the calling thread's privileges: no_new_privs, every capability out
// of the bounding, ambient, inheritable, permitted and effective sets. Like
// capabilities themselves this is per thread: threads created afterwards
// inherit it. Without CAP_SETPCAP (not root) the bounding set stays and the
// rest is still cleared. Throws Error when capset fails.
void drop_privileges();

// ---- the process-wide setting the threads consult ----

// How khyve.seccomp asks the threads to be sandboxed. Kill (bhyve's
// default) kills the whole process with SIGSYS at a refused call, the way
// Firecracker does: a compromised thread gets no chance to carry on, and no
// filtered thread may set signal actions. Trap, for debugging, names the
// call on one line and exits 4; Eperm and Log let the process go on.
enum class SandboxMode { Off, Kill, Trap, Eperm, Log };

// "true/yes/on/1" -> Kill, "false/no/off/0" -> Off, "kill", "trap", "eperm",
// "log".
std::optional<SandboxMode> parse_sandbox_mode(std::string_view text);

// Set once by bhyve before the first thread starts; Off by default, so unit
// tests and the other tools are not affected. Trap installs the SIGSYS
// handler that names the call, process-wide, there and then.
void set_sandbox_mode(SandboxMode mode);
SandboxMode sandbox_mode();

// The call each thread function makes at its start: under mode Off nothing;
// otherwise drop_privileges() and install_thread_filter(kind, action). A
// failure there is fatal (message on stderr, exit status 4): a thread must
// not run the guest's devices unconfined once confinement was asked for.
void enter_thread_sandbox(ThreadKind kind) noexcept;

// What enter_thread_sandbox does, whatever the mode: drop_privileges() and
// the filter for `kind` with `action` (Trap: the refused call is named on one
// line, then exit status 4; the handler is installed here unless
// set_sandbox_mode(Trap) did it already). Throws Error when that fails.
void sandbox_now(ThreadKind kind, FilterAction action);

}  // namespace khyve
