#include "vm/machine.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "acpi/acpi.h"
#include "acpi/mptable.h"
#include "boot/boot_state.h"
#include "bus/bus.h"
#include "common/error.h"
#include "ctl/control_commands.h"
#include "ctl/control_server.h"
#include "devices/acpi_pm.h"
#include "devices/console_stdio.h"
#include "devices/i8042.h"
#include "devices/port_sink.h"
#include "devices/rtc_cmos.h"
#include "devices/uart16550.h"
#include "devices/uart_pio.h"
#include "kvm/cpuid.h"
#include "kvm/kvm.h"
#include "kvm/kvm_interrupts.h"
#include "kvm/kvm_stats.h"
#include "pci/hostbridge.h"
#include "pci/lpc.h"
#include "pci/pci_bus.h"
#include "pci/pci_conf1.h"
#include "pci/pci_ecam.h"
#include "vcpu/boot_regs.h"
#include "vcpu/exit_handler.h"
#include "vcpu/vcpu_thread.h"
#include "stats/stats.h"
#include "vm/device_stats.h"
#include "platform/layout.h"
#include "sandbox/run_as.h"
#include "sandbox/seccomp.h"
#include "vm/gdb_glue.h"
#include "platform/lifecycle.h"
#include "vm/pci_devices.h"

namespace khyve {

namespace {

struct ComPort {
    std::shared_ptr<Uart16550> uart;
    std::unique_ptr<ConsoleBackend> backend;
};

struct ComSpec {
    const char* name;
    uint16_t port;
    unsigned irq;
};
constexpr ComSpec kComPorts[] = {
    {"com1", layout::kCom1, layout::kCom1Irq},
    {"com2", layout::kCom2, layout::kCom2Irq},
    {"com3", layout::kCom3, layout::kCom1Irq},
    {"com4", layout::kCom4, layout::kCom2Irq},
};

// Reads "key value" or "key : value" lines of /proc files.
uint64_t proc_value(const std::string& path, const std::string& key) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, key.size(), key) != 0) continue;
        auto pos = line.find_first_of("0123456789", key.size());
        if (pos != std::string::npos) return std::stoull(line.substr(pos));
    }
    return 0;
}

uint64_t thread_runtime_ns(pid_t tid) {
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/schedstat");
    uint64_t ns = 0;
    in >> ns;
    return ns;
}

}  // namespace

struct Machine::Impl {
    const KvmSystem& kvm;
    MachineConfig cfg;
    VmObject vm;
    GuestMemory mem;
    KvmVm kvm_vm;
    KvmInterrupts irq{kvm_vm};
    Bus pio, mmio;
    Lifecycle lifecycle;
    std::shared_ptr<AcpiPm> pm;
    std::vector<ComPort> coms;
    std::shared_ptr<PciBus> pci;
    std::vector<std::shared_ptr<PciDevice>> pci_devices;
    std::vector<std::unique_ptr<KvmVcpu>> vcpus;
    std::vector<KvmStats> vcpu_stats;
    std::unique_ptr<ExitHandler> handler;
    StartGate start_gate;  // before threads: outlives every vCPU thread
    std::vector<std::unique_ptr<VcpuThread>> threads;
    // Its sources point at the devices and threads above: declared after
    // them, so it goes first.
    StatsRegistry stats;
    std::unique_ptr<GdbGlue> gdb;  // after threads: destroyed before them
    class Control;
    std::unique_ptr<Control> control;  // before the server that calls it
    std::unique_ptr<ControlServer> control_server;
    bool power_button_pressed = false;

    Impl(const KvmSystem& k, const MachineConfig& c, VmObject v)
        : kvm(k), cfg(c), vm(std::move(v)), mem(vm.map_memory()), kvm_vm(k) {}

    void build();
    void build_memory();
    void build_legacy();
    void build_pci();
    void build_acpi();
    void build_mptable_blob();
    void build_vcpus();
    int run();
    void request_poweroff(const char* why);
    bool all_vcpus_halted();
    void vcpu_stats_groups(std::vector<StatsGroup>& out);
};

void Machine::Impl::build() {
    kvm_vm.setup_x86_irqchip();
    irq.apply_default_routes();
    build_memory();
    build_legacy();
    build_pci();
    if (cfg.acpi) build_acpi();
    if (cfg.mptable) build_mptable_blob();
    build_vcpus();
}

void Machine::Impl::build_memory() {
    if (cfg.wire_memory) {
        for (const auto& r : mem.regions())
            if (::mlock(r.host, r.size) < 0) throw sys_error("-S: cannot wire guest memory");
    }
    uint32_t slot = 0;
    for (const auto& r : mem.regions()) kvm_vm.set_user_memory_region(slot++, r.gpa, r.size, r.host);
}

void Machine::Impl::build_legacy() {
    auto line = [this](unsigned gsi) { return [this, gsi](bool level) { irq.set_irq_line(gsi, level); }; };
    pm = std::make_shared<AcpiPm>(
        line(layout::kSciIrq),
        [this] { lifecycle.stop({ExitAction::PowerOff, "guest powered off"}); },
        [this] { lifecycle.stop({ExitAction::Reset, "guest reset"}); });
    pm->attach(pio);

    auto rtc = std::make_shared<RtcCmos>(vm.lowmem(), vm.highmem());
    RtcCmos::attach(pio, rtc);

    auto kbd = std::make_shared<I8042>(
        [this] { lifecycle.stop({ExitAction::Reset, "guest reset (keyboard controller)"}); },
        line(1), line(12));
    kbd->attach(pio);

    PortSink::attach_defaults(pio);

    for (const auto& lpc : cfg.lpc) {
        const ComSpec* spec = nullptr;
        for (const auto& s : kComPorts)
            if (lpc.name == s.name) spec = &s;
        if (!spec) throw Error("unknown LPC device " + lpc.name);
        ComPort com;
        std::unique_ptr<ConsoleBackend> backend;
        if (lpc.backend == "stdio") backend = ConsoleBackend::open_stdio();
        else if (!lpc.backend.empty()) backend = ConsoleBackend::open_path(lpc.backend);
        ConsoleBackend* out = backend.get();
        com.uart = std::make_shared<Uart16550>(line(spec->irq), [out](uint8_t b) {
            if (out) out->output(b);
        });
        pio.insert(spec->port, UartPio::kSize, std::make_shared<UartPio>(com.uart), lpc.name);
        register_uart_stats(stats, lpc.name, *com.uart);
        com.backend = std::move(backend);
        coms.push_back(std::move(com));
    }
}

void Machine::Impl::build_pci() {
    PciWindows w;
    uint64_t top = vm.highmem() ? layout::kHighMemBase + vm.highmem() : layout::kHighMemBase;
    const uint64_t gib = 1ull << 30;
    w.mem64_base = (top + gib - 1) / gib * gib;
    w.mem64_size = 64 * gib;
    pci = std::make_shared<PciBus>(w, &irq);
    for (const auto& d : cfg.pci) {
        if (d.addr.bus != 0)
            throw Error("pci bus " + std::to_string(d.addr.bus) + " is not supported (use bus 0)");
        auto dev = make_pci_device(
            d, PciDeviceContext{mem, irq, irq, cfg.name,
                                [this](const std::string& m) { lifecycle.stop({ExitAction::Error, m}); }});
        pci->add(d.addr.slot, d.addr.function, dev);
        register_pci_stats(stats, pci_device_label(d.device, d.addr.slot, d.addr.function), *dev);
        pci_devices.push_back(std::move(dev));
    }
    pci->assign_resources();
    auto conf1 = std::make_shared<PciConf1>(
        pci, [this](uint8_t v) { pm->reset_control_write(v); },
        [this] { return pm->reset_control_read(); });
    pio.insert(PciConf1::kBase, PciConf1::kSize, conf1, "pci-conf1");
    mmio.insert(layout::kEcamBase, layout::kEcamSize, std::make_shared<PciEcam>(pci), "pci-ecam");
    pio.insert(w.io_base, w.io_end - w.io_base, pci->io_window(), "pci-io");
    mmio.insert(w.mem32_base, w.mem32_end - w.mem32_base, pci->mem32_window(), "pci-mem32");
    mmio.insert(w.mem64_base, w.mem64_size, pci->mem64_window(), "pci-mem64");
}

void Machine::Impl::build_acpi() {
    AcpiConfig a;
    a.cpus = cfg.cpus;
    a.pci = true;
    a.ecam = true;
    for (const auto& r : pci->irq_routes()) a.pci_routes.push_back({r.slot, r.pin, r.gsi});
    a.mmio64_base = pci->windows().mem64_base;
    a.mmio64_size = pci->windows().mem64_size;
    for (const auto& l : cfg.lpc) {
        if (l.name == "com1") a.com1 = true;
        if (l.name == "com2") a.com2 = true;
    }
    a.i8042 = true;
    auto blob = build_acpi_tables(a, layout::kAcpiBase);
    if (layout::kAcpiBase + blob.size() > layout::kMpTableBase)
        throw Error("the ACPI tables overlap the MP table");
    if (!mem.write(layout::kAcpiBase, blob.data(), blob.size()))
        throw Error("guest memory too small for the ACPI tables");
    // Tell the kernel where the RSDP is (boot_params.acpi_rsdp_addr), saving the scan.
    mem.write_obj<uint64_t>(layout::kZeroPage + 0x70, layout::kAcpiBase);
}

// The MP table tells a guest without ACPI (no -A) about its CPUs and the
// IOAPIC, as bhyve writes one unless -Y.
void Machine::Impl::build_mptable_blob() {
    MpTableConfig m;
    m.cpus = cfg.cpus;
    for (const auto& r : pci->irq_routes()) m.pci_routes.push_back({r.slot, r.pin, r.gsi});
    auto blob = build_mptable(m, layout::kMpTableBase);
    if (!mem.write(layout::kMpTableBase, blob.data(), blob.size()))
        throw Error("guest memory too small for the MP table");
}

void Machine::Impl::build_vcpus() {
    auto text = vm.read_boot_state();
    if (!text) throw Error("VM " + vm.name() + " has no boot state: run bhyveload first");
    BootState boot = BootState::parse(*text);
    // A boot state is used once, as FreeBSD's VM must be reloaded after each
    // run: a second bhyve on the same memory would jump into a used kernel.
    vm.consume_boot_state();
    auto supported = kvm.supported_cpuid();
    const bool tsc_deadline = kvm.check_extension(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
    for (unsigned i = 0; i < cfg.cpus; ++i) {
        auto v = std::make_unique<KvmVcpu>(kvm, kvm_vm, i);
        v->set_cpuid(vcpu_cpuid(supported, {.vcpu_id = i,
                                            .vcpu_count = cfg.cpus,
                                            .x2apic = cfg.x2apic,
                                            .tsc_deadline = tsc_deadline}));
        setup_lapic_virtual_wire(*v);
        if (i == 0) apply_boot_state(*v, boot);
        vcpu_stats.emplace_back(v->stats_fd());
        vcpus.push_back(std::move(v));
    }
    handler = std::make_unique<ExitHandler>(pio, mmio, ExitHandlerOptions{.strict_io = cfg.exit_on_unhandled_io});
    stats.add([this](std::vector<StatsGroup>& out) { vcpu_stats_groups(out); });
}

void Machine::Impl::request_poweroff(const char* why) {
    if (cfg.acpi && !power_button_pressed) {
        power_button_pressed = true;
        std::fprintf(stderr, "bhyve: %s: pressing the ACPI power button\r\n", why);
        pm->press_power_button();
        return;
    }
    lifecycle.stop({ExitAction::PowerOff, std::string(why) + ": powered off"});
}

bool Machine::Impl::all_vcpus_halted() {
    // A vCPU that executed HLT with interrupts disabled can only be woken by
    // an NMI or INIT: the guest has halted (Linux's halt does this on every CPU).
    for (auto& t : threads) {
        bool halted = false;
        t->run_on_vcpu([&](KvmVcpu& v) {
            auto mp = v.get_mp_state().mp_state;
            if (mp == KVM_MP_STATE_UNINITIALIZED || mp == KVM_MP_STATE_INIT_RECEIVED) {
                halted = true;  // never started
            } else if (mp == KVM_MP_STATE_HALTED) {
                halted = (v.get_regs().rflags & (1u << 9)) == 0;
            }
        });
        if (!halted) return false;
    }
    // At least the boot CPU must have started, or nothing ran at all.
    return !threads.empty();
}

void Machine::Impl::vcpu_stats_groups(std::vector<StatsGroup>& out) {
    for (size_t i = 0; i < threads.size(); ++i) {
        StatsGroup g{"vcpu", {{"vcpu", std::to_string(i)}}, {}};
        append_samples(g.samples, threads[i]->counters());
        pid_t tid = threads[i]->tid();
        std::string task = "/proc/self/task/" + std::to_string(tid);
        Sample rt{"runtime_ns", "", "vcpu_runtime_seconds_total",
                  "CPU time of the vCPU thread (schedstat)", MetricKind::Counter, {}, thread_runtime_ns(tid), 1e9};
        g.samples.push_back(std::move(rt));
        g.samples.push_back({"migrations", "", "vcpu_migrations_total",
                             "Moves of the vCPU thread between host CPUs (se.nr_migrations)", MetricKind::Counter,
                             {}, proc_value(task + "/sched", "se.nr_migrations")});
        for (const auto& k : vcpu_stats[i].read_values()) {
            const bool counter = k.kind == KvmStats::Kind::Cumulative;
            g.samples.push_back({k.name, "kvm", "kvm_vcpu_" + k.name + (counter ? "_total" : ""),
                                 "KVM's per-vCPU statistic " + k.name + " (KVM_GET_STATS_FD)",
                                 counter ? MetricKind::Counter : MetricKind::Gauge, {}, k.value});
        }
        out.push_back(std::move(g));
    }
}

// The control protocol's view of the machine (src/ctl/control_commands.h).
class Machine::Impl::Control final : public ControlTarget {
public:
    explicit Control(Impl& m) : m_(m) {}
    Status status() override { return {m_.cfg.name, m_.cfg.cpus, m_.vm.lowmem(), m_.vm.highmem()}; }
    std::vector<StatsGroup> collect_stats() override { return m_.stats.collect(); }
    void read_regs(unsigned idx, kvm_regs& r, kvm_sregs& s) override {
        if (idx >= m_.threads.size()) throw Error("no vCPU " + std::to_string(idx));
        m_.threads[idx]->run_on_vcpu([&](KvmVcpu& v) {
            r = v.get_regs();
            s = v.get_sregs();
        });
    }
    void power_off(const char* why) override { m_.request_poweroff(why); }
    void destroy() override { m_.lifecycle.stop({ExitAction::Error, "VM destroyed by bhyvectl"}); }

private:
    Impl& m_;
};

int Machine::Impl::run() {
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    Fd sigfd(::signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sigfd.valid()) throw sys_error("signalfd");

    // The control socket is bound while bhyve is still root (in /dev/vmm);
    // its thread starts later, with the rest.
    control = std::make_unique<Control>(*this);
    control_server = std::make_unique<ControlServer>(
        vm.file("ctl"), [this](const nlohmann::json& r) { return handle_control_command(*control, r); });
    // khyve.user / khyve.chroot: everything is open; no thread of this
    // machine has started yet, so all of them start unprivileged.
    if (!cfg.run_as_user.empty() || !cfg.chroot_dir.empty()) {
        RunAs as = resolve_run_as(cfg.run_as_user, cfg.chroot_dir);
        ::tzset();  // /etc/localtime, read once, before a chroot hides it
        become(as);
    }

    for (auto& c : coms)
        if (c.backend) c.backend->start(*c.uart);
    VcpuThread::install_kick_signal();
    for (auto& v : vcpus) {
        auto t = std::make_unique<VcpuThread>(*v, *handler, lifecycle);
        std::vector<unsigned> cpus;
        for (const auto& p : cfg.pins)
            if (p.vcpu == v->id()) cpus.push_back(p.host_cpu);
        t->set_affinity(std::move(cpus));
        t->set_start_gate(&start_gate);
        threads.push_back(std::move(t));
    }
    if (cfg.gdb_port) {
        gdb::KvmDebugCaps caps{static_cast<uint32_t>(std::max(0, kvm.check_extension(KVM_CAP_SET_GUEST_DEBUG2)))};
        gdb = std::make_unique<GdbGlue>(threads, mem, caps);
        for (auto& t : threads) t->set_observer(gdb.get());
        gdb->listen(cfg.gdb_address, cfg.gdb_port,
                    [this] { lifecycle.stop({ExitAction::PowerOff, "killed by gdb"}); });
        if (cfg.gdb_wait) {
            std::fprintf(stderr, "bhyve: waiting for gdb on %s:%u\r\n", cfg.gdb_address.c_str(), cfg.gdb_port);
            while (!gdb->wait_for_attach(std::chrono::milliseconds(100))) {
                signalfd_siginfo si;
                if (::read(sigfd.get(), &si, sizeof si) == ssize_t(sizeof si)) {
                    terminal_restore_all();
                    return exit_status_for(ExitAction::PowerOff);
                }
            }
        }
    }
    // The vCPU threads start, confine themselves and wait at the gate; the
    // main thread opens it once it is confined too: no guest instruction runs
    // while any thread is unfiltered. On an error before that the gate opens
    // on a stopped machine, so the vCPUs leave without a KVM_RUN.
    for (auto& t : threads) t->start();
    struct OpenGateOnError {
        Impl& m;
        bool armed = true;
        ~OpenGateOnError() {
            if (!armed) return;
            m.lifecycle.stop({ExitAction::Error, "bhyve failed before the guest started"});
            m.start_gate.open();
        }
    } on_error{*this};
    control_server->start();

    enter_thread_sandbox(ThreadKind::Control);
    on_error.armed = false;
    start_gate.open();
    std::optional<ExitResult> verdict;
    auto last_halt_check = std::chrono::steady_clock::now();
    while (!(verdict = lifecycle.wait_for(std::chrono::milliseconds(0)))) {
        pollfd p{sigfd.get(), POLLIN, 0};
        ::poll(&p, 1, 100);
        signalfd_siginfo si;
        while (::read(sigfd.get(), &si, sizeof si) == ssize_t(sizeof si))
            request_poweroff(si.ssi_signo == SIGINT ? "SIGINT" : si.ssi_signo == SIGHUP ? "SIGHUP" : "SIGTERM");
        auto now = std::chrono::steady_clock::now();
        if (now - last_halt_check > std::chrono::milliseconds(500) && !(gdb && gdb->paused())) {
            last_halt_check = now;
            if (all_vcpus_halted()) lifecycle.stop({ExitAction::Halt, "guest halted"});
        }
    }
    control_server.reset();
    if (gdb) gdb->shutdown();
    for (auto& t : threads) t->join();
    for (auto& c : coms)
        if (c.backend) c.backend->stop();
    terminal_restore_all();
    if (verdict->action == ExitAction::Error) std::fprintf(stderr, "bhyve: %s\n", verdict->message.c_str());
    return exit_status_for(verdict->action);
}

Machine::Machine(const KvmSystem& kvm, const MachineConfig& cfg, VmObject vm)
    : impl_(std::make_unique<Impl>(kvm, cfg, std::move(vm))) {
    impl_->build();
}

Machine::~Machine() = default;

int Machine::run() { return impl_->run(); }

}  // namespace khyve
