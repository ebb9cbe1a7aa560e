#include "vcpu/vcpu_thread.h"
#include "sandbox/seccomp.h"

#include "trace/probes.h"

#include <sched.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace khyve {

namespace {
constexpr int kKickSignal = SIGUSR1;
void on_kick(int) {}
}  // namespace

void VcpuThread::install_kick_signal() {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_kick;  // no SA_RESTART: KVM_RUN must return EINTR
    sigemptyset(&sa.sa_mask);
    sigaction(kKickSignal, &sa, nullptr);
}

void VcpuThread::start() {
    running_ = true;
    thread_ = std::thread([this] { loop(); });
    handle_ = thread_.native_handle();
}

void VcpuThread::kick() {
    ++counters_.kicks;
    // immediate_exit covers the window just before KVM_RUN; the signal covers
    // a vCPU already inside it.
    vcpu_.run_struct()->immediate_exit = 1;
    if (running_) pthread_kill(handle_, kKickSignal);
    if (observer_) observer_->kicked();
}

void VcpuThread::join() {
    if (thread_.joinable()) {
        kick();
        thread_.join();
    }
}

void VcpuThread::run_on_vcpu(const std::function<void(KvmVcpu&)>& fn) {
    std::future<void> done;
    {
        std::lock_guard lk(req_mu_);
        if (!running_) {
            fn(vcpu_);
            return;
        }
        std::promise<void> p;
        done = p.get_future();
        requests_.emplace_back(fn, std::move(p));
    }
    kick();
    done.get();
}

void VcpuThread::serve_requests() {
    std::deque<std::pair<std::function<void(KvmVcpu&)>, std::promise<void>>> reqs;
    {
        std::lock_guard lk(req_mu_);
        reqs.swap(requests_);
    }
    for (auto& [fn, p] : reqs) {
        try {
            fn(vcpu_);
            p.set_value();
        } catch (...) {
            p.set_exception(std::current_exception());
        }
    }
}

void VcpuThread::count_exit(VcpuExit::Kind kind) {
    ++counters_.exits;
    switch (kind) {
        case VcpuExit::Kind::Io: ++counters_.io; break;
        case VcpuExit::Kind::Mmio: ++counters_.mmio; break;
        case VcpuExit::Kind::Hlt: ++counters_.hlt; break;
        case VcpuExit::Kind::Shutdown: ++counters_.shutdown; break;
        case VcpuExit::Kind::SystemEvent: ++counters_.system_event; break;
        case VcpuExit::Kind::Debug: ++counters_.debug; break;
        default: ++counters_.other; break;
    }
}

void VcpuThread::loop() {
    // Whatever escapes the run loop (a device's host error, an ioctl that
    // failed) stops the machine with its message: exit 4, one line.
    run_guarded("vCPU " + std::to_string(vcpu_.id()), [this](const std::string& m) {
        lifecycle_.stop({ExitAction::Error, m});
    }, [this] { run_loop(); });
    {
        std::lock_guard lk(req_mu_);
        running_ = false;
    }
    serve_requests();
    if (observer_) {
        try {
            observer_->retired(vcpu_.id());
        } catch (...) {
        }
    }
}

void VcpuThread::run_loop() {
    tid_ = static_cast<pid_t>(::syscall(SYS_gettid));
    // "vcpu N", as bhyve names its vCPU threads (ps -T, top -H, /proc/PID/task/TID/comm).
    const std::string name = "vcpu " + std::to_string(vcpu_.id());
    ::prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
    if (!affinity_.empty()) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (unsigned cpu : affinity_)
            if (cpu < CPU_SETSIZE) CPU_SET(cpu, &set);
        if (::sched_setaffinity(0, sizeof set, &set) < 0)
            std::fprintf(stderr, "bhyve: cannot pin vCPU %u: %s\n", vcpu_.id(), std::strerror(errno));
    }
    // After everything the filter forbids (pinning above).
    enter_thread_sandbox(ThreadKind::Vcpu);
    if (gate_) gate_->wait();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, kKickSignal);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    kvm_run* run = vcpu_.run_struct();
    while (!lifecycle_.stopping()) {
        if (observer_) {
            observer_->before_run(vcpu_.id(), [this] { serve_requests(); });
            if (lifecycle_.stopping()) break;
        }
        int r = vcpu_.run();
        if (r == -EINTR || r == -EAGAIN) {
            run->immediate_exit = 0;
            serve_requests();
            continue;
        }
        if (r < 0) {
            lifecycle_.stop({ExitAction::Error, std::string("KVM_RUN: ") + std::strerror(-r)});
            break;
        }
        VcpuExit e = decode_exit(run);
        KHYVE_PROBE_VM_EXIT(vcpu_.id(), run->exit_reason);
        count_exit(e.kind);
        if (e.kind == VcpuExit::Kind::Debug && observer_) {
            observer_->debug_exit(vcpu_);
            continue;
        }
        ExitResult res = handler_.handle(e);
        KHYVE_PROBE_VM_EXIT_RETURN(vcpu_.id(), static_cast<int>(res.action));
        if (res.action != ExitAction::Continue) {
            lifecycle_.stop(std::move(res));
            break;
        }
    }
}

}  // namespace khyve
