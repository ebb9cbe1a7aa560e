// One host thread per vCPU: KVM_RUN, hand the exit to the ExitHandler, repeat
// until the machine stops. Other threads reach the vCPU only through kick()
// and run_on_vcpu(), which executes a function on the vCPU thread between two
// KVM_RUNs (KVM requires vCPU ioctls from the thread that runs it, in effect).
#pragma once

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "kvm/kvm.h"
#include "stats/counters.h"
#include "vcpu/exit_handler.h"
#include "platform/failure.h"
#include "platform/lifecycle.h"

namespace khyve {

// An optional observer that may hold the vCPU between two KVM_RUNs (a
// debugger) and takes KVM_EXIT_DEBUG exits. Called on the vCPU's thread.
class VcpuObserver {
public:
    virtual ~VcpuObserver() = default;
    // Before each KVM_RUN; may block, calling serve() now and then so that
    // run_on_vcpu() requests are answered while the vCPU is held.
    virtual void before_run(unsigned vcpu, const std::function<void()>& serve) = 0;
    virtual void retired(unsigned vcpu) = 0;
    virtual void debug_exit(KvmVcpu& vcpu) = 0;
    virtual void kicked() = 0;
};

// Held shut by the machine until its main thread runs under its own filter,
// so that no guest instruction executes while any thread of the process is
// unconfined. Opened once; open() is also the way out on an error path.
class StartGate {
public:
    void open() {
        std::lock_guard lk(mu_);
        open_ = true;
        cv_.notify_all();
    }
    void wait() {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [this] { return open_; });
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool open_ = false;
};

class VcpuThread {
public:
    VcpuThread(KvmVcpu& vcpu, const ExitHandler& handler, Lifecycle& lifecycle)
        : vcpu_(vcpu), handler_(handler), lifecycle_(lifecycle) {}
    ~VcpuThread() { join(); }

    // Installs the (empty) kick signal handler; call once before start().
    static void install_kick_signal();

    // Host CPUs this vCPU's thread may run on (-p); empty = any.
    void set_affinity(std::vector<unsigned> host_cpus) { affinity_ = std::move(host_cpus); }
    void set_observer(VcpuObserver* o) { observer_ = o; }
    // The first KVM_RUN waits for `gate` (after the thread's own filter).
    void set_start_gate(StartGate* gate) { gate_ = gate; }
    void start();
    void kick();
    void join();
    // Runs fn(vcpu) on the vCPU thread (or directly once it has ended).
    void run_on_vcpu(const std::function<void(KvmVcpu&)>& fn);

    const VcpuCounters& counters() const { return counters_; }
    pid_t tid() const { return tid_.load(); }

private:
    void loop();      // the thread: run_loop() guarded, then retire
    void run_loop();
    void serve_requests();
    void count_exit(VcpuExit::Kind kind);

    KvmVcpu& vcpu_;
    const ExitHandler& handler_;
    Lifecycle& lifecycle_;
    std::thread thread_;
    std::atomic<bool> running_{false};
    std::atomic<pid_t> tid_{0};
    pthread_t handle_{};
    std::mutex req_mu_;
    std::deque<std::pair<std::function<void(KvmVcpu&)>, std::promise<void>>> requests_;
    VcpuCounters counters_;
    std::vector<unsigned> affinity_;
    VcpuObserver* observer_ = nullptr;
    StartGate* gate_ = nullptr;
};

}  // namespace khyve
