#include "diskboot/sandboxed_load.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "common/error.h"
#include "common/fd.h"
#include "sandbox/seccomp.h"

namespace khyve::diskboot {

namespace {

constexpr char kOk = 'K';
constexpr char kFailed = 'E';
constexpr size_t kMaxMessage = 4096;

bool write_all(int fd, const void* data, size_t len) {
    auto* p = static_cast<const uint8_t*>(data);
    while (len > 0) {
        ssize_t n = ::write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= size_t(n);
    }
    return true;
}

// Reads exactly len bytes; false at an early end of the pipe.
bool read_all(int fd, void* data, size_t len) {
    auto* p = static_cast<uint8_t*>(data);
    while (len > 0) {
        ssize_t n = ::read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= size_t(n);
    }
    return true;
}

void limit(int resource, rlim_t value) {
    rlimit r{value, value};
    if (::setrlimit(resource, &r) != 0) throw sys_error("setrlimit");
}

// The child's root becomes its own fd table: "/N" names fd N, and no other
// file on the host can be named. As root that is a chroot; otherwise a new
// user namespace gives the child the right to make it.
void confine_to_fds() {
    if (::chroot("/proc/self/fd") != 0) {
        if (errno != EPERM || ::unshare(CLONE_NEWUSER) != 0 || ::chroot("/proc/self/fd") != 0)
            throw sys_error("cannot confine the disk parser (chroot into /proc/self/fd)");
    }
    if (::chdir("/") != 0) throw sys_error("chdir");
}

[[noreturn]] void child(int image_fd, int out, const std::string& image,
                        const std::function<LoadedBoot(const std::string&)>& parse, const LoaderLimits& lim) {
    const std::string inside = "/" + std::to_string(image_fd);
    std::string message;
    try {
        if (kLoaderMemoryLimited) limit(RLIMIT_AS, lim.memory);
        limit(RLIMIT_CPU, lim.cpu_seconds);
        limit(RLIMIT_NPROC, 0);
        limit(RLIMIT_CORE, 0);
        confine_to_fds();
        sandbox_now(ThreadKind::Loader, FilterAction::KillProcess);
        LoadedBoot b = parse(inside);
        std::cout.flush();
        const uint64_t lens[3] = {b.kernel.size(), b.initrd.size(), b.cmdline.size()};
        bool ok = write_all(out, &kOk, 1) && write_all(out, lens, sizeof lens) &&
                  write_all(out, b.kernel.data(), b.kernel.size()) &&
                  write_all(out, b.initrd.data(), b.initrd.size()) &&
                  write_all(out, b.cmdline.data(), b.cmdline.size());
        ::_exit(ok ? 0 : kExitError);
    } catch (const std::exception& e) {
        message = e.what();
    } catch (...) {
        message = "unknown error";
    }
    std::cout.flush();
    // The parser names the image as it sees it; the operator knows its path.
    for (size_t at = 0; (at = message.find(inside, at)) != std::string::npos;) {
        const size_t end = at + inside.size();
        const bool whole = (at == 0 || message[at - 1] == ' ' || message[at - 1] == '\'') &&
                           (end == message.size() || message[end] == ':' || message[end] == ' ' ||
                            message[end] == '\'');
        if (whole) {
            message.replace(at, inside.size(), image);
            at += image.size();
        } else {
            at = end;
        }
    }
    if (message.size() > kMaxMessage) message.resize(kMaxMessage);
    const uint64_t len = message.size();
    bool ok = write_all(out, &kFailed, 1) && write_all(out, &len, sizeof len) && write_all(out, message.data(), len);
    ::_exit(ok ? 0 : kExitError);
}

std::string child_death(int status) {
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        std::string why = sig == SIGSYS   ? " (a system call its sandbox refuses)"
                          : sig == SIGXCPU ? " (its CPU time limit)"
                          : sig == SIGKILL ? " (out of its memory limit, or killed)"
                                           : "";
        return "the sandboxed disk parser was killed by signal " + std::to_string(sig) + why;
    }
    return "the sandboxed disk parser exited with status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

LoadedBoot load_sandboxed(const std::string& image, const std::function<LoadedBoot(const std::string&)>& parse,
                          const LoaderLimits& lim) {
    Fd img(::open(image.c_str(), O_RDONLY | O_CLOEXEC));
    if (!img.valid()) throw sys_error(image + ": cannot open the disk image");
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw sys_error("pipe2");
    Fd in(p[0]), out(p[1]);
    std::fflush(nullptr);
    std::cout.flush();
    pid_t pid = ::fork();
    if (pid < 0) throw sys_error("fork");
    if (pid == 0) {
        in.reset();
        child(img.get(), out.get(), image, parse, lim);
    }
    out.reset();
    img.reset();

    // Read everything the child says before reaping it; what it says is as
    // hostile as the image it parsed.
    std::string failure;
    LoadedBoot b;
    bool complete = false;
    char tag = 0;
    if (read_all(in.get(), &tag, 1)) {
        if (tag == kFailed) {
            uint64_t len = 0;
            if (read_all(in.get(), &len, sizeof len) && len <= kMaxMessage) {
                failure.resize(len);
                if (!read_all(in.get(), failure.data(), len)) failure.clear();
            }
            if (failure.empty()) failure = "the sandboxed disk parser sent a malformed error";
        } else if (tag == kOk) {
            uint64_t lens[3] = {};
            if (!read_all(in.get(), lens, sizeof lens)) {
                failure = "the sandboxed disk parser's answer ended early";
            } else if (lens[0] == 0 || lens[0] > lim.max_kernel) {
                failure = "the sandboxed disk parser sent a kernel of " + std::to_string(lens[0]) +
                          " bytes (1 to " + std::to_string(lim.max_kernel) + ")";
            } else if (lens[1] > lim.max_initrd) {
                failure = "the sandboxed disk parser sent an initrd of " + std::to_string(lens[1]) +
                          " bytes (at most " + std::to_string(lim.max_initrd) + ")";
            } else if (lens[2] > lim.max_cmdline) {
                failure = "the sandboxed disk parser sent a command line of " + std::to_string(lens[2]) +
                          " bytes (at most " + std::to_string(lim.max_cmdline) + ")";
            } else {
                b.kernel.resize(lens[0]);
                b.initrd.resize(lens[1]);
                b.cmdline.resize(lens[2]);
                complete = read_all(in.get(), b.kernel.data(), lens[0]) &&
                           read_all(in.get(), b.initrd.data(), lens[1]) &&
                           read_all(in.get(), b.cmdline.data(), lens[2]);
                if (!complete) failure = "the sandboxed disk parser's answer ended early";
            }
        } else {
            failure = "the sandboxed disk parser sent a malformed answer";
        }
    }
    if (!failure.empty() || !complete) ::kill(pid, SIGKILL);  // it may still be writing
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!failure.empty()) throw Error(failure);
    if (!complete || !WIFEXITED(status) || WEXITSTATUS(status) != 0) throw Error(image + ": " + child_death(status));
    if (b.cmdline.find('\0') != std::string::npos) throw Error(image + ": the boot entry's command line has a NUL byte");
    return b;
}

}  // namespace khyve::diskboot
