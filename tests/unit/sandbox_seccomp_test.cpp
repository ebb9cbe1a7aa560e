// Each filter is installed in a forked child, which then probes allowed and
// forbidden calls and reports through its exit status; the parent reads it
// with waitpid. A kill-action child must die of SIGSYS.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <thread>

#include <linux/if_tun.h>

#include <gtest/gtest.h>

#include "sandbox/seccomp.h"

namespace khyve {
namespace {

// Exit codes the children use.
constexpr int kOk = 0;
constexpr int kThrew = 99;

// Runs fn in a child; returns the raw waitpid status.
int in_child(const std::function<int()>& fn) {
    pid_t pid = ::fork();
    if (pid == 0) {
        int code = kThrew;
        try {
            code = fn();
        } catch (...) {
        }
        ::_exit(code);
    }
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    return status;
}

void expect_exit(int status, int code) {
    ASSERT_TRUE(WIFEXITED(status)) << "child signalled: " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    EXPECT_EQ(WEXITSTATUS(status), code);
}

// 0 when the call was refused by the filter (EPERM), else a distinct code.
int refused(long r, int code) { return (r == -1 && errno == EPERM) ? 0 : code; }
// 0 when the call got through the filter (any result but EPERM).
int passed(long r, int code) { return (r == -1 && errno == EPERM) ? code : 0; }

class SandboxSeccomp : public ::testing::Test {
protected:
    void SetUp() override {
        if (!seccomp_supported()) GTEST_SKIP() << "kernel without seccomp filters";
    }
};

TEST_F(SandboxSeccomp, VcpuAllowsItsCallsAndRefusesOthers) {
    int efd = ::eventfd(0, EFD_NONBLOCK);
    ASSERT_GE(efd, 0);
    expect_exit(in_child([efd] {
                    install_thread_filter(ThreadKind::Vcpu, FilterAction::Eperm);
                    uint64_t one = 1;
                    if (::write(efd, &one, sizeof one) != sizeof one) return 1;
                    if (::read(efd, &one, sizeof one) != sizeof one) return 2;
                    if (::getpid() <= 0) return 3;
                    // KVM_RUN on a non-KVM fd reaches the kernel: ENOTTY, not EPERM.
                    if (int c = passed(::ioctl(efd, KVM_RUN, 0), 4)) return c;
                    if (int c = refused(::ioctl(efd, FIONREAD, nullptr), 5)) return c;
                    if (int c = refused(::socket(AF_INET, SOCK_STREAM, 0), 6)) return c;
                    if (int c = refused(::syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0), 7)) return c;
                    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
                    if (int c = refused(::execve("/bin/true", argv, nullptr), 8)) return c;
                    if (int c = refused(::open("/etc/hostname", O_RDONLY), 9)) return c;
                    // A process cannot be forked (these flags are EINVAL should the filter let
                    // them through), a thread can be created.
                    if (int c = refused(::syscall(SYS_clone, CLONE_SIGHAND, 0, 0, 0, 0), 10)) return c;
                    int seen = 0;
                    std::thread([&] { seen = 1; }).join();
                    if (seen != 1) return 11;
                    // No executable memory.
                    void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                    if (p != MAP_FAILED || errno != EPERM) return 12;
                    p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                    if (p == MAP_FAILED) return 13;
                    if (int c = refused(::mprotect(p, 4096, PROT_READ | PROT_EXEC), 14)) return c;
                    // Signals to another process are refused, to itself allowed.
                    if (int c = refused(::syscall(SYS_tgkill, ::getppid(), ::getppid(), 0), 15)) return c;
                    if (::syscall(SYS_tgkill, ::getpid(), ::gettid(), 0) != 0) return 16;
                    return kOk;
                }),
                kOk);
    ::close(efd);
}

TEST_F(SandboxSeccomp, VcpuThreadCanNarrowToDeviceIo) {
    // The virtio workers are created by vCPU threads and install their own filter.
    expect_exit(in_child([] {
                    install_thread_filter(ThreadKind::Vcpu, FilterAction::Eperm);
                    int code = kThrew;
                    std::thread([&] {
                        try {
                            drop_privileges();
                            install_thread_filter(ThreadKind::DeviceIo, FilterAction::Eperm);
                        } catch (...) {
                            code = 1;
                            return;
                        }
                        // DeviceIo cannot make threads nor run a vCPU.
                        if ((code = refused(::eventfd(0, 0), 2))) return;
                        if ((code = refused(::ioctl(0, KVM_RUN, 0), 3))) return;
                        if ((code = passed(::syscall(SYS_io_uring_enter, -1, 0, 0, 0, nullptr, 0), 4))) return;
                        code = kOk;
                    }).join();
                    return code;
                }),
                kOk);
}

TEST_F(SandboxSeccomp, DeviceIoAllowsIoAndRefusesOthers) {
    expect_exit(in_child([] {
                    install_thread_filter(ThreadKind::DeviceIo, FilterAction::Eperm);
                    char buf[8];
                    if (int c = passed(::pread(-1, buf, sizeof buf, 0), 1)) return c;
                    if (int c = passed(::fdatasync(-1), 2)) return c;
                    if (int c = passed(::accept4(-1, nullptr, nullptr, 0), 3)) return c;
                    if (int c = passed(::ioctl(-1, KVM_IRQ_LINE, nullptr), 4)) return c;
                    if (int c = refused(::ioctl(-1, KVM_GET_REGS, nullptr), 5)) return c;
                    if (int c = refused(::socket(AF_UNIX, SOCK_STREAM, 0), 6)) return c;
                    if (int c = refused(::syscall(SYS_clone, CLONE_THREAD, 0, 0, 0, 0), 7))
                        return c;
                    if (int c = refused(::unlink("/nonexistent/x"), 8)) return c;
                    return kOk;
                }),
                kOk);
}

TEST_F(SandboxSeccomp, ControlReadsProcButOpensNothingForWriting) {
    expect_exit(in_child([] {
                    install_thread_filter(ThreadKind::Control, FilterAction::Eperm);
                    int fd = ::openat(AT_FDCWD, "/proc/self/stat", O_RDONLY | O_CLOEXEC);
                    if (fd < 0) return 1;
                    char buf[64];
                    if (::read(fd, buf, sizeof buf) <= 0) return 2;
                    ::close(fd);
                    if (int c = refused(::openat(AT_FDCWD, "/tmp/khyve-sandbox-x", O_WRONLY | O_CREAT, 0600), 3))
                        return c;
                    if (int c = refused(::openat(AT_FDCWD, "/proc/self/stat", O_RDWR), 4)) return c;
                    if (int c = passed(::unlink("/nonexistent/x"), 5)) return c;
                    if (int c = passed(::ioctl(-1, KVM_IRQ_LINE, nullptr), 6)) return c;
                    if (int c = refused(::ioctl(-1, KVM_RUN, 0), 7)) return c;
                    if (int c = refused(::socket(AF_UNIX, SOCK_STREAM, 0), 8)) return c;
                    if (int c = refused(::syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0), 9)) return c;
                    if (int c = refused(::eventfd(0, 0), 10)) return c;
                    return kOk;
                }),
                kOk);
}

// The gdb server thread talks TCP on a socket made before it starts, and
// may touch nothing else: no new sockets, no files, no epoll, no block I/O.
TEST_F(SandboxSeccomp, GdbTalksOnItsSocketAndNothingElse) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    expect_exit(in_child([&] {
                    install_thread_filter(ThreadKind::Gdb, FilterAction::Eperm);
                    if (::send(sv[0], "+", 1, MSG_NOSIGNAL) != 1) return 1;
                    char c;
                    if (::recv(sv[1], &c, 1, 0) != 1 || c != '+') return 2;
                    int on = 1;
                    // TCP_NODELAY on a unix socket reaches the kernel (EOPNOTSUPP), not the filter's EPERM.
                    if (int r = passed(::setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &on, sizeof on), 3)) return r;
                    timeval tv{5, 0};
                    if (::setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) return 4;
                    if (int r = refused(::setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &on, sizeof on), 5)) return r;
                    if (int r = passed(::accept4(sv[0], nullptr, nullptr, SOCK_CLOEXEC), 6)) return r;
                    if (int r = passed(::ioctl(-1, KVM_SET_GUEST_DEBUG, nullptr), 7)) return r;
                    if (int r = refused(::ioctl(-1, KVM_RUN, 0), 8)) return r;
                    if (int r = refused(::socket(AF_INET, SOCK_STREAM, 0), 9)) return r;
                    if (int r = refused(::openat(AT_FDCWD, "/proc/self/stat", O_RDONLY), 10)) return r;
                    if (int r = refused(::epoll_create1(0), 11)) return r;
                    if (int r = refused(::eventfd(0, 0), 12)) return r;
                    if (int r = refused(::pwrite(sv[0], "x", 1, 0), 13)) return r;
                    if (int r = refused(::syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0), 14)) return r;
                    return kOk;
                }),
                kOk);
    ::close(sv[0]);
    ::close(sv[1]);
}

// The main thread tears the machine down under the control filter: a virtio-net
// still active then (a guest that reboots without resetting it) puts the tap's
// offloads back. Found by the vmrun scenario: bhyve died at a guest reboot.
TEST_F(SandboxSeccomp, ControlMayResetTapOffloadsAtTeardown) {
    expect_exit(in_child([] {
                    install_thread_filter(ThreadKind::Control, FilterAction::Eperm);
                    return passed(::ioctl(-1, TUNSETOFFLOAD, 0ul), 1);
                }),
                kOk);
}

// The debugging mode (Trap): one line naming the syscall, the ioctl
// request and the thread kind, then bhyve's error status.
TEST_F(SandboxSeccomp, RefusalSaysWhichIoctlInWhichThreadKind) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    int status = in_child([&] {
        ::dup2(p[1], 2);
        set_sandbox_mode(SandboxMode::Trap);
        enter_thread_sandbox(ThreadKind::Control);
        ::ioctl(-1, KVM_RUN, 0);
        return 1;
    });
    ::close(p[1]);
    char buf[256] = {};
    ssize_t n = ::read(p[0], buf, sizeof buf - 1);
    ::close(p[0]);
    expect_exit(status, 4);
    ASSERT_GT(n, 0);
    EXPECT_NE(std::string(buf).find("seccomp refused syscall 16 (ioctl 0xae80) in a control thread"),
              std::string::npos)
        << buf;
}

// bhyve's default mode (Kill): the whole process dies with SIGSYS at once,
// from any thread kind; no handler runs, so nothing in it can carry on.
TEST_F(SandboxSeccomp, DefaultModeKillsTheProcessFromEveryThreadKind) {
    for (ThreadKind kind : {ThreadKind::Vcpu, ThreadKind::DeviceIo, ThreadKind::Control, ThreadKind::Gdb}) {
        int status = in_child([kind] {
            set_sandbox_mode(SandboxMode::Kill);
            std::thread([kind] {
                enter_thread_sandbox(kind);
                ::socket(AF_INET, SOCK_STREAM, 0);
            }).join();
            return 3;  // not reached
        });
        ASSERT_TRUE(WIFSIGNALED(status)) << "kind " << int(kind) << " status " << status;
        EXPECT_EQ(WTERMSIG(status), SIGSYS);
    }
}

// A thread that runs guest-driven code cannot install a handler of its own
// for SIGSYS (or anything else) and so cannot survive a refusal.
TEST_F(SandboxSeccomp, GuestFacingThreadsCannotSetSignalActions) {
    for (ThreadKind kind : {ThreadKind::Vcpu, ThreadKind::DeviceIo, ThreadKind::Gdb, ThreadKind::Loader}) {
        expect_exit(in_child([kind] {
                        install_thread_filter(kind, FilterAction::Eperm);
                        struct sigaction sa {};
                        sa.sa_handler = SIG_IGN;
                        return refused(::sigaction(SIGSYS, &sa, nullptr), 1);
                    }),
                    kOk);
    }
}

TEST_F(SandboxSeccomp, KillActionKillsTheProcessWithSigsys) {
    for (ThreadKind kind : {ThreadKind::Vcpu, ThreadKind::DeviceIo, ThreadKind::Control}) {
        int status = in_child([kind] {
            install_thread_filter(kind);
            if (::getpid() <= 0) return 1;  // allowed: still alive
            ::syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
            return 2;  // not reached
        });
        ASSERT_TRUE(WIFSIGNALED(status)) << "kind " << int(kind) << " status " << status;
        EXPECT_EQ(WTERMSIG(status), SIGSYS);
    }
}

TEST_F(SandboxSeccomp, KillActionKillsForAForbiddenExecve) {
    int status = in_child([] {
        install_thread_filter(ThreadKind::Vcpu);
        char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
        ::execve("/bin/true", argv, nullptr);
        return 2;
    });
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

TEST_F(SandboxSeccomp, KillingThreadKillsTheWholeProcess) {
    // A forbidden call in one thread ends every thread of the process.
    int status = in_child([] {
        std::thread([] {
            install_thread_filter(ThreadKind::DeviceIo);
            ::socket(AF_UNIX, SOCK_STREAM, 0);
        }).join();
        return 3;  // not reached
    });
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

TEST_F(SandboxSeccomp, FilterIsPerThread) {
    // No TSYNC: a sibling thread created before the filter stays unfiltered.
    expect_exit(in_child([] {
                    std::atomic<int> stage{0};
                    int sock = -2;
                    std::thread sibling([&] {
                        while (stage.load() != 1) std::this_thread::yield();
                        sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
                        stage = 2;
                    });
                    install_thread_filter(ThreadKind::Control, FilterAction::Eperm);
                    stage = 1;
                    sibling.join();
                    if (sock < 0) return 1;
                    if (int c = refused(::socket(AF_UNIX, SOCK_STREAM, 0), 2)) return c;
                    return kOk;
                }),
                kOk);
}

TEST(SandboxPrivileges, DropClearsCapabilitiesAndSetsNoNewPrivs) {
    expect_exit(in_child([] {
                    drop_privileges();
                    if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 1;
                    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
                    __user_cap_data_struct d[2] = {};
                    if (::syscall(SYS_capget, &h, d) != 0) return 2;
                    for (auto& x : d)
                        if (x.effective || x.permitted || x.inheritable) return 3;
                    // Root keeps its uid but not its power: the bounding set is empty.
                    if (::geteuid() == 0 && ::prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0) return 4;
                    if (::geteuid() == 0 && ::chown("/proc/self/stat", 1, 1) == 0) return 5;
                    return kOk;
                }),
                kOk);
}

TEST(SandboxMode, ParsesTheConfigValue) {
    EXPECT_EQ(parse_sandbox_mode("true"), SandboxMode::Kill);
    EXPECT_EQ(parse_sandbox_mode("On"), SandboxMode::Kill);
    EXPECT_EQ(parse_sandbox_mode("kill"), SandboxMode::Kill);
    EXPECT_EQ(parse_sandbox_mode("false"), SandboxMode::Off);
    EXPECT_EQ(parse_sandbox_mode("0"), SandboxMode::Off);
    EXPECT_EQ(parse_sandbox_mode("EPERM"), SandboxMode::Eperm);
    EXPECT_EQ(parse_sandbox_mode("trap"), SandboxMode::Trap);
    EXPECT_EQ(parse_sandbox_mode("log"), SandboxMode::Log);
    EXPECT_EQ(parse_sandbox_mode("maybe"), std::nullopt);
    EXPECT_EQ(parse_sandbox_mode(""), std::nullopt);
}

TEST(SandboxMode, OffByDefaultSoEnterDoesNothing) {
    EXPECT_EQ(sandbox_mode(), SandboxMode::Off);
    expect_exit(in_child([] {
                    enter_thread_sandbox(ThreadKind::Control);
                    return ::socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? kOk : 1;
                }),
                kOk);
}

TEST_F(SandboxSeccomp, EnterAppliesTheModeSet) {
    expect_exit(in_child([] {
                    set_sandbox_mode(SandboxMode::Eperm);
                    enter_thread_sandbox(ThreadKind::Control);
                    return refused(::socket(AF_UNIX, SOCK_STREAM, 0), 1);
                }),
                kOk);
}

}  // namespace
}  // namespace khyve
