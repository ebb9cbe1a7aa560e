// What goes wrong on a device worker thread reaches the machine as one line
// and stops it with status 4: an fd epoll refuses, a callback that throws,
// epoll_wait failing.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/error.h"
#include "common/fd.h"
#include "platform/lifecycle.h"
#include "virtio/device_worker.h"

namespace khyve {
namespace {

// The machine's sink: the first failure is the verdict.
struct Machine {
    Lifecycle lifecycle;
    FailureSink sink() {
        return [this](const std::string& m) { lifecycle.stop({ExitAction::Error, m}); };
    }
    ExitResult verdict() {
        auto v = lifecycle.wait_for(std::chrono::seconds(10));
        return v ? *v : ExitResult{ExitAction::Continue, "no verdict"};
    }
};

void expect_one_line_exit4(const ExitResult& r, const std::string& has) {
    EXPECT_EQ(r.action, ExitAction::Error);
    EXPECT_EQ(exit_status_for(r.action), 4);
    EXPECT_NE(r.message.find(has), std::string::npos) << r.message;
    EXPECT_EQ(r.message.find('\n'), std::string::npos) << r.message;
}

TEST(DeviceWorker, FdThatEpollRefusesIsAnError) {
    Machine m;
    DeviceWorker w("virtio-blk@2:0", [] { return false; }, m.sink());
    std::FILE* f = std::tmpfile();  // regular files cannot be watched (EPERM)
    ASSERT_NE(f, nullptr);
    try {
        w.add_fd(::fileno(f), [] {});
        ADD_FAILURE() << "add_fd accepted a regular file";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("virtio-blk@2:0: cannot watch fd"), std::string::npos) << e.what();
    }
    std::fclose(f);
    Fd ev(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    EXPECT_NO_THROW(w.remove_fd(ev.get()));  // not watched: nothing to do
}

TEST(DeviceWorker, CallbackThatThrowsStopsTheMachine) {
    Machine m;
    Fd ev(::eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC));
    DeviceWorker w("virtio-net@3:0", [] { return false; }, m.sink());
    w.add_fd(ev.get(), [] { throw Error("tap read: Input/output error"); });
    w.start();
    expect_one_line_exit4(m.verdict(), "virtio-net@3:0 worker: tap read: Input/output error");
    w.stop();  // joins a thread that already ended
}

int failing_wait(int, epoll_event*, int, int) {
    errno = EBADF;
    return -1;
}

TEST(DeviceWorker, EpollWaitFailureStopsTheMachine) {
    Machine m;
    DeviceWorker w("virtio-rnd@4:0", [] { return false; }, m.sink(), failing_wait);
    w.start();
    expect_one_line_exit4(m.verdict(), "virtio-rnd@4:0 worker: epoll_wait");
}

int interrupted_once(int ep, epoll_event* evs, int max, int timeout) {
    static int calls = 0;
    if (calls++ == 0) {
        errno = EINTR;
        return -1;
    }
    return ::epoll_wait(ep, evs, max, timeout);
}

TEST(DeviceWorker, EintrIsRetriedAndCallbacksRun) {
    Machine m;
    Fd ev(::eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC));
    DeviceWorker w("virtio-rnd@5:0", [] { return false; }, m.sink(), interrupted_once);
    w.add_fd(ev.get(), [&] {
        uint64_t v;
        [[maybe_unused]] auto r = ::read(ev.get(), &v, sizeof v);
        m.lifecycle.stop({ExitAction::PowerOff, "callback ran"});
    });
    w.start();
    auto r = m.verdict();
    EXPECT_EQ(r.action, ExitAction::PowerOff) << r.message;
}

TEST(RunGuarded, ReportsWhatEscapesAndNeverThrows) {
    std::string got;
    run_guarded("vCPU 1", [&](const std::string& m) { got = m; }, [] { throw std::runtime_error("KVM_SET_REGS: EINVAL"); });
    EXPECT_EQ(got, "vCPU 1: KVM_SET_REGS: EINVAL");
    got.clear();
    run_guarded("vCPU 1", [&](const std::string& m) { got = m; }, [] { throw 42; });
    EXPECT_EQ(got, "vCPU 1: unknown exception");
    got.clear();
    run_guarded("vCPU 1", [&](const std::string& m) { got = m; }, [] {});
    EXPECT_TRUE(got.empty());
    // A sink that throws is contained too.
    EXPECT_NO_THROW(run_guarded("x", [](const std::string&) { throw 1; }, [] { throw 2; }));
}

}  // namespace
}  // namespace khyve
