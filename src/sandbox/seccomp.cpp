#include "sandbox/seccomp.h"

#include <csignal>
#include <ctime>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <unistd.h>

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <seccomp.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "common/error.h"
#include "kvm/kvm_abi.h"

namespace khyve {

namespace {

// Syscalls allowed without conditions, by kind (see seccomp.h for why).
const std::vector<int> kBase = {
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(close),
    SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(madvise),
    SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
    SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(clock_gettime),
    SCMP_SYS(gettimeofday), SCMP_SYS(clock_getres),
    SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall), SCMP_SYS(sigaltstack),
    SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(exit), SCMP_SYS(exit_group),
    SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(getrandom),
    SCMP_SYS(seccomp), SCMP_SYS(capget), SCMP_SYS(capset),
#if defined(KHYVE_SANITIZER_BUILD)
    // UBSan's vptr check probes memory with a pipe (IsAccessibleMemoryRange)
    // the first time it meets a type; only the sanitizer build allows it.
    SCMP_SYS(pipe2),
#endif
};

const std::vector<int> kDeviceIo = {
    SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(poll),
    SCMP_SYS(ppoll), SCMP_SYS(io_uring_enter),
    SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev),
    SCMP_SYS(preadv2), SCMP_SYS(pwritev2), SCMP_SYS(fdatasync), SCMP_SYS(fsync),
    SCMP_SYS(fallocate),
    SCMP_SYS(sendmsg), SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(accept4),
};

const std::vector<int> kVcpuOnly = {SCMP_SYS(epoll_create1), SCMP_SYS(eventfd2)};

const std::vector<int> kControl = {
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
    SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(shutdown),
    SCMP_SYS(lseek), SCMP_SYS(pread64),
    SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rmdir),
    SCMP_SYS(epoll_ctl), SCMP_SYS(io_uring_enter),
    SCMP_SYS(flock),  // -D: destroying the VM object takes its lock
};

// ioctl request numbers, as the code really issues them (flex-array ones
// from kvm_abi.h: the <linux/kvm.h> macros are wrong in C++ for those).
const std::vector<unsigned long> kBaseIoctls = {TCGETS};
const std::vector<unsigned long> kDeviceIoIoctls = {KVM_IRQ_LINE, KVM_SIGNAL_MSI};
const std::vector<unsigned long> kVcpuIoctls = {
    KVM_RUN,       KVM_GET_REGS,     KVM_SET_REGS,     KVM_GET_SREGS,
    KVM_SET_SREGS, KVM_GET_LAPIC,    KVM_SET_LAPIC,    KVM_GET_MP_STATE,
    KVM_SET_MP_STATE, kvm_abi::kSetGsiRouting, KVM_IRQFD, KVM_IOEVENTFD,
    TUNSETOFFLOAD,
    // the gdb stub (-g/-G) reads and steers a vCPU from its own thread
    KVM_GET_FPU, KVM_SET_FPU, KVM_SET_GUEST_DEBUG, KVM_TRANSLATE, kvm_abi::kGetMsrs,
};
const std::vector<unsigned long> kControlIoctls = {
    KVM_IRQ_LINE, KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_MP_STATE,
    KVM_IRQFD, KVM_IOEVENTFD, kvm_abi::kSetGsiRouting,
    TCSETS, TCSETSW, TCSETSF,
    // the main thread tears the devices down: an active virtio-net puts the
    // tap's offloads back (a guest that reboots leaves it active)
    TUNSETOFFLOAD,
};

// The gdb stub's thread: the vCPU state calls run_on_vcpu makes inline once
// a vCPU thread has ended (otherwise the vCPU thread makes them).
const std::vector<unsigned long> kGdbIoctls = {
    KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_GET_FPU, KVM_SET_FPU,
    KVM_SET_GUEST_DEBUG, KVM_TRANSLATE, kvm_abi::kGetMsrs, KVM_GET_MP_STATE,
};
// One debugger connection: poll the listener, the connection and two
// eventfds, accept, talk, hang up.
const std::vector<int> kGdb = {
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
    SCMP_SYS(shutdown),
};

// The bhyveload -d disk parser (a child process): reading the image through
// libext2fs, the loader prompt on the terminal, the result down a pipe.
const std::vector<int> kLoader = {
    SCMP_SYS(lseek), SCMP_SYS(pread64), SCMP_SYS(preadv), SCMP_SYS(poll), SCMP_SYS(ppoll),
    SCMP_SYS(fcntl), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
    SCMP_SYS(fsync), SCMP_SYS(fdatasync),  // libext2fs flushes its (read-only) channel at close
};
const std::vector<unsigned long> kLoaderIoctls = {
    TCSETS, TCSETSW, TCSETSF, BLKGETSIZE64, BLKSSZGET, BLKBSZGET, BLKROGET, BLKDISCARDZEROES, BLKALIGNOFF,
};

// Requests a filtered thread may make of prctl: installing a further filter
// and lowering capabilities.
const std::vector<int> kPrctlOptions = {
    PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP,
    PR_CAPBSET_READ, PR_CAPBSET_DROP, PR_CAP_AMBIENT,
};

// Argument comparisons spelled out (the SCMP_A* macros leave datum_b to
// aggregate initialisation, which clang's -Wmissing-field-initializers flags).
scmp_arg_cmp arg_eq(unsigned arg, scmp_datum_t v) { return {arg, SCMP_CMP_EQ, v, 0}; }
scmp_arg_cmp arg_masked_eq(unsigned arg, scmp_datum_t mask, scmp_datum_t v) {
    return {arg, SCMP_CMP_MASKED_EQ, mask, v};
}

uint32_t scmp_action(FilterAction a) {
    switch (a) {
        case FilterAction::KillProcess: return SCMP_ACT_KILL_PROCESS;
        case FilterAction::Eperm: return SCMP_ACT_ERRNO(EPERM);
        case FilterAction::Log: return SCMP_ACT_LOG;
        case FilterAction::Trap: return SCMP_ACT_TRAP;
    }
    return SCMP_ACT_KILL_PROCESS;
}

class Filter {
public:
    explicit Filter(FilterAction action) : ctx_(seccomp_init(scmp_action(action))), default_(scmp_action(action)) {
        if (!ctx_) throw Error("seccomp: cannot create a filter");
        // A syscall made through another ABI (int 0x80, x32) meets the same fate.
        check(seccomp_attr_set(ctx_, SCMP_FLTATR_ACT_BADARCH, scmp_action(action)), "badarch");
        check(seccomp_attr_set(ctx_, SCMP_FLTATR_CTL_TSYNC, 0), "tsync");
    }
    ~Filter() { seccomp_release(ctx_); }
    Filter(const Filter&) = delete;
    Filter& operator=(const Filter&) = delete;

    void allow(const std::vector<int>& calls) {
        for (int nr : calls) check(seccomp_rule_add(ctx_, SCMP_ACT_ALLOW, nr, 0), "rule");
    }
    template <class... Cmp>
    void allow_if(int nr, Cmp... cmp) {
        check(seccomp_rule_add(ctx_, SCMP_ACT_ALLOW, nr, sizeof...(cmp), cmp...), "rule");
    }
    void refuse(int nr, int err) {
        // libseccomp rejects a rule whose action is the default one (Eperm mode).
        if (SCMP_ACT_ERRNO(uint32_t(err)) == default_) return;
        check(seccomp_rule_add(ctx_, SCMP_ACT_ERRNO(err), nr, 0), "rule");
    }
    void allow_ioctls(const std::vector<unsigned long>& reqs) {
        // The kernel reads the request as an unsigned int: compare the low 32 bits.
        for (unsigned long r : reqs)
            allow_if(SCMP_SYS(ioctl), arg_masked_eq(1, 0xffffffffu, r & 0xffffffffu));
    }
    void load() { check(seccomp_load(ctx_), "load"); }

private:
    static void check(int rc, const char* what) {
        if (rc < 0) throw sys_error(std::string("seccomp: ") + what, -rc);
    }
    scmp_filter_ctx ctx_;
    uint32_t default_;
};

void add_base(Filter& f) {
    f.allow(kBase);
    // Memory, never executable: a compromised thread cannot map new code.
    f.allow_if(SCMP_SYS(mmap), arg_masked_eq(2, PROT_EXEC, 0));
    f.allow_if(SCMP_SYS(mprotect), arg_masked_eq(2, PROT_EXEC, 0));
    // Signals only within this process (vCPU kicks, abort()).
    const auto self = static_cast<scmp_datum_t>(::getpid());
    f.allow_if(SCMP_SYS(tgkill), arg_eq(0, self));
    for (int o : kPrctlOptions) f.allow_if(SCMP_SYS(prctl), arg_eq(0, scmp_datum_t(o)));
    f.allow_ioctls(kBaseIoctls);
}

void add_device_io(Filter& f) {
    f.allow(kDeviceIo);
    f.allow_ioctls(kDeviceIoIoctls);
    // Opening files is not a device thread's business, but library code
    // (glibc, liburing) opens files opportunistically and copes when it
    // cannot: refuse with EPERM rather than kill, as a forbidden-but-harmless
    // call (found in virtio-blk runs; every scenario passes this way).
    f.refuse(SCMP_SYS(openat), EPERM);
    f.refuse(SCMP_SYS(open), EPERM);
}

void add_vcpu(Filter& f) {
    add_device_io(f);
    f.allow(kVcpuOnly);
    f.allow_ioctls(kVcpuIoctls);
    // Threads, never processes. clone3 passes its flags in memory the filter
    // cannot read: ENOSYS makes glibc fall back to clone, whose flags it can.
    f.allow_if(SCMP_SYS(clone), arg_masked_eq(0, CLONE_THREAD, CLONE_THREAD));
    f.refuse(SCMP_SYS(clone3), ENOSYS);
}

void add_control(Filter& f) {
    f.allow(kControl);
    f.allow_ioctls(kControlIoctls);
    // Who is on the other end of a control connection, nothing else.
    f.allow_if(SCMP_SYS(getsockopt), arg_eq(1, SOL_SOCKET), arg_eq(2, SO_PEERCRED));
    f.allow(std::vector<int>{SCMP_SYS(geteuid)});
    // /proc statistics: read-only opens that cannot create or truncate.
    f.allow_if(SCMP_SYS(openat),
               arg_masked_eq(2, scmp_datum_t(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND), 0));
}

void add_gdb(Filter& f) {
    f.allow(kGdb);
    f.allow_ioctls(kGdbIoctls);
    // The two options the server sets on each connection, nothing else.
    f.allow_if(SCMP_SYS(setsockopt), arg_eq(1, IPPROTO_TCP), arg_eq(2, TCP_NODELAY));
    f.allow_if(SCMP_SYS(setsockopt), arg_eq(1, SOL_SOCKET), arg_eq(2, SO_SNDTIMEO));
}

void add_loader(Filter& f) {
    f.allow(kLoader);
    f.allow_ioctls(kLoaderIoctls);
    // Its root is its own /proc/self/fd: a read-only open can name only the
    // image it was given.
    f.allow_if(SCMP_SYS(openat),
               arg_masked_eq(2, scmp_datum_t(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND), 0));
    // libext2fs's safe_getenv asks whether the process is dumpable.
    f.allow_if(SCMP_SYS(prctl), arg_eq(0, PR_GET_DUMPABLE));
}

int sys_capset(cap_user_header_t h, cap_user_data_t d) { return int(::syscall(SYS_capset, h, d)); }

std::atomic<SandboxMode> g_mode{SandboxMode::Off};

}  // namespace

bool seccomp_supported() {
    if (::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0) return false;  // kernel without CONFIG_SECCOMP
    uint32_t action = SECCOMP_RET_KILL_PROCESS;
    return ::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

void install_thread_filter(ThreadKind kind, FilterAction action) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) throw sys_error("seccomp: PR_SET_NO_NEW_PRIVS");
    Filter f(action);
    add_base(f);
    switch (kind) {
        case ThreadKind::Vcpu: add_vcpu(f); break;
        case ThreadKind::DeviceIo: add_device_io(f); break;
        case ThreadKind::Control: add_control(f); break;
        case ThreadKind::Gdb: add_gdb(f); break;
        case ThreadKind::Loader: add_loader(f); break;
    }
    f.load();
}

void drop_privileges() {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) throw sys_error("PR_SET_NO_NEW_PRIVS");
    // The bounding set first: dropping from it needs CAP_SETPCAP, which the
    // capset below removes. EPERM (not privileged) leaves it as it is;
    // EINVAL marks the first number past the kernel's last capability.
    for (int cap = 0; cap < 64; ++cap) {
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
        if (errno == EINVAL) break;
        if (errno != EPERM) throw sys_error("PR_CAPBSET_DROP");
    }
    // EINVAL: a kernel without ambient capabilities (before 4.3), nothing to clear.
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        throw sys_error("PR_CAP_AMBIENT_CLEAR_ALL");
    __user_cap_header_struct h{};
    h.version = _LINUX_CAPABILITY_VERSION_3;
    h.pid = 0;
    __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
    if (sys_capset(&h, d) < 0) throw sys_error("capset");
}

std::optional<SandboxMode> parse_sandbox_mode(std::string_view text) {
    std::string t;
    for (char c : text) t += char(std::tolower(static_cast<unsigned char>(c)));
    if (t == "true" || t == "yes" || t == "on" || t == "1" || t == "kill") return SandboxMode::Kill;
    if (t == "false" || t == "no" || t == "off" || t == "0") return SandboxMode::Off;
    if (t == "trap") return SandboxMode::Trap;
    if (t == "eperm") return SandboxMode::Eperm;
    if (t == "log") return SandboxMode::Log;
    return std::nullopt;
}

SandboxMode sandbox_mode() { return g_mode; }

namespace {

thread_local const char* t_kind = "?";
std::atomic<bool> g_reporter_installed{false};
void on_sigsys(int, siginfo_t* si, void* ctx);

// The SIGSYS handler that names a trapped call, installed once per process
// (signal actions are process-wide): before any thread starts in bhyve, so
// no filtered thread ever needs rt_sigaction.
void install_sigsys_reporter() {
    if (g_reporter_installed.exchange(true)) return;
    struct sigaction sa {};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    ::sigaction(SIGSYS, &sa, nullptr);
}

// A refused syscall is a VMM bug: say which one, on one line, and stop with
// bhyve's error status (async-signal-safe: no stdio).
size_t put_number(char* out, unsigned long v, unsigned base) {
    char digits[24];
    size_t k = 0;
    do {
        digits[k++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v > 0 && k < sizeof digits);
    for (size_t i = 0; i < k; ++i) out[i] = digits[k - 1 - i];
    return k;
}

void on_sigsys(int, siginfo_t* si, void* ctx) {
    char msg[200];
    size_t n = 0;
    for (const char* p = program_invocation_short_name; *p && n < 40; ++p) msg[n++] = *p;
    const char head[] = ": seccomp refused syscall ";
    std::memcpy(msg + n, head, sizeof head - 1);
    n += sizeof head - 1;
    n += put_number(msg + n, static_cast<unsigned long>(si->si_syscall), 10);
    // For ioctl the request number is what tells the bug apart.
    if (si->si_syscall == SYS_ioctl && ctx) {
        const char req[] = " (ioctl 0x";
        std::memcpy(msg + n, req, sizeof req - 1);
        n += sizeof req - 1;
        const auto* uc = static_cast<const ucontext_t*>(ctx);
        n += put_number(msg + n, static_cast<unsigned long>(uc->uc_mcontext.gregs[REG_RSI]) & 0xffffffffu, 16);
        msg[n++] = ')';
    }
    const char* kind = t_kind;
    const char in[] = " in a ";
    std::memcpy(msg + n, in, sizeof in - 1);
    n += sizeof in - 1;
    for (; *kind && n < 120; ++kind) msg[n++] = *kind;
    const char tail[] = " thread (a khyve bug: run with -o khyve.seccomp=false meanwhile)\n";
    std::memcpy(msg + n, tail, sizeof tail - 1);
    n += sizeof tail - 1;
    if (::write(2, msg, n) < 0) { /* nothing more to do */ }
    ::_exit(kExitError);
}

}  // namespace

void set_sandbox_mode(SandboxMode mode) {
    g_mode = mode;
    if (mode == SandboxMode::Trap) install_sigsys_reporter();
}

void enter_thread_sandbox(ThreadKind kind) noexcept {
    const SandboxMode mode = g_mode;
    if (mode == SandboxMode::Off) return;
    const FilterAction action = mode == SandboxMode::Eperm  ? FilterAction::Eperm
                                : mode == SandboxMode::Log  ? FilterAction::Log
                                : mode == SandboxMode::Trap ? FilterAction::Trap
                                                            : FilterAction::KillProcess;
    try {
        sandbox_now(kind, action);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bhyve: cannot sandbox a thread: %s\n", e.what());
        ::_exit(kExitError);
    }
}

void sandbox_now(ThreadKind kind, FilterAction action) {
    // glibc gives a thread its malloc arena on its first allocation and
    // reads /sys/devices/system/cpu/online to size the arena list then:
    // allocate once before the filter forbids open().
    t_kind = kind == ThreadKind::Vcpu       ? "vCPU"
             : kind == ThreadKind::DeviceIo ? "device I/O"
             : kind == ThreadKind::Gdb      ? "gdb"
             : kind == ThreadKind::Loader   ? "disk parser"
                                            : "control";
    void* volatile warm = std::malloc(64);
    std::free(warm);
    // gmtime_r()/localtime_r() read /etc/localtime the first time (the RTC
    // calls them on a vCPU thread): load it now.
    ::tzset();
    if (action == FilterAction::Trap) install_sigsys_reporter();
    drop_privileges();
    install_thread_filter(kind, action);
}

}  // namespace khyve
