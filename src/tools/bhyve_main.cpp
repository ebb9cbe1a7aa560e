// bhyve(8): run the VM object NAME that bhyveload(8) prepared.
#include <malloc.h>

#include <csignal>
#include <cstdlib>
#include <cstdio>

#include "common/error.h"
#include "config/bhyve_options.h"
#include "config/config_tree.h"
#include "config/machine_config.h"
#include "devices/console_stdio.h"
#include "kvm/kvm.h"
#include "sandbox/seccomp.h"
#include "vm/machine.h"
#include "platform/memory_split.h"
#include "vm/vm_object.h"

namespace {

std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

int run(int argc, char** argv) {
    if (argc == 2 && std::string(argv[1]) == "--help") {  // as bhyveload and bhyvectl
        std::fputs(khyve::bhyve_usage().c_str(), stdout);
        return 0;
    }
    auto args = khyve::parse_bhyve_args(argc, argv);
    if (args.usage_requested) {
        std::fputs(khyve::bhyve_usage().c_str(), stdout);
        return 0;
    }
    if (!args.help_text.empty()) {
        std::fputs(args.help_text.c_str(), stdout);
        return 0;
    }
    if (args.tree.get_bool("config.dump", false)) {
        std::fputs(args.tree.dump().c_str(), stdout);
        return 1;
    }
    auto cfg = khyve::MachineConfig::from_tree(args.tree);

    // Syscall filters per thread kind, on unless -o khyve.seccomp=false.
    if (cfg.seccomp && !khyve::seccomp_supported())
        throw khyve::Error("this kernel has no seccomp filters: run with -o khyve.seccomp=false");
    khyve::set_sandbox_mode(cfg.seccomp ? khyve::SandboxMode::Kill : khyve::SandboxMode::Off);
    // KHYVE_SECCOMP=trap|log|eperm|kill|false: for finding a missing syscall (trap
    // names it on one line and exits 4; log
    // reports to the kernel's audit log instead of killing).
    if (const char* m = std::getenv("KHYVE_SECCOMP"); cfg.seccomp && m && *m) {
        auto mode = khyve::parse_sandbox_mode(m);
        if (!mode) throw khyve::Error(std::string("KHYVE_SECCOMP: unknown mode '") + m + "'");
        khyve::set_sandbox_mode(*mode);
    }

    // The flags must agree with what bhyveload made before any host
    // resource is asked for: a mismatch is the operator's error on any host.
    auto vm = khyve::VmObject::open(cfg.name);
    auto want = khyve::split_memory(cfg.memory, cfg.highmem);
    if (want.lowmem != vm.lowmem() || want.highmem != vm.highmem())
        throw khyve::Error("VM " + cfg.name + " was loaded with " + mib(vm.lowmem()) + " low + " +
                           mib(vm.highmem()) + " high memory, but bhyve was given " +
                           mib(want.lowmem) + " + " + mib(want.highmem));

    // The manual's "kldload vmm": is there a KVM that can run guests?
    auto kvm = khyve::KvmSystem::open();
    if (khyve::KvmSystem::is_pvm() && !std::getenv("KHYVE_ALLOW_PVM"))
        throw khyve::Error("/dev/kvm here is PVM, a software KVM that cannot run stock guest "
                           "kernels: run guests in the test host (testhost/run.sh) or on a host "
                           "with kvm_intel/kvm_amd (KHYVE_ALLOW_PVM=1 overrides)");

    // Signals that stop the guest are taken by the machine's signalfd; block
    // them before any thread exists so every thread inherits the mask.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    int status;
    {
        khyve::Machine machine(kvm, cfg, std::move(vm));
        status = machine.run();
    }
    // -D: a guest that powered off takes its VM object with it.
    if (status == khyve::kExitPowerOff && cfg.destroy_on_poweroff) khyve::VmObject::destroy(cfg.name);
    return status;
}

// A crash must not leave the user's terminal in raw mode.
void on_fatal_signal(int sig) {
    khyve::terminal_restore_all();
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

}  // namespace

int main(int argc, char** argv) {
    // One malloc arena for every thread (glibc would give each vCPU and device
    // thread its own, ~50 KiB resident apiece); per-thread caches keep small
    // allocations off the shared lock. See docs/PERFORMANCE.md (VMM memory).
    ::mallopt(M_ARENA_MAX, 1);
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) std::signal(sig, on_fatal_signal);
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        khyve::terminal_restore_all();
        std::fprintf(stderr, "bhyve: %s\n", e.what());
        return khyve::kExitError;
    }
}
