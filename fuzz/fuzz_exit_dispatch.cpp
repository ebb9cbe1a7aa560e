// decode_exit on a fuzzed kvm_run (within KVM's contract: port data at the
// PIO page, size * count inside it), then ExitHandler dispatch onto port and
// MMIO buses holding the real i8042, RTC, ACPI PM, 16550 and port sinks plus
// probe devices that check what the bus hands them. Contract: the data span
// stays inside the run area, devices only see whole accesses of width
// 1/2/4/8 inside their range, an unclaimed read floats high, -e turns an
// unclaimed access into an Error, and each exit kind gets its verdict.
#include <fuzzer/FuzzedDataProvider.h>
#include <linux/kvm.h>

#include <cstring>

#include "common/error.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/port_sink.h"
#include "devices/rtc_cmos.h"
#include "devices/uart16550.h"
#include "devices/uart_pio.h"
#include "vcpu/exit_handler.h"

using namespace khyve;

namespace {

struct Probe : BusDevice {
    uint64_t len;
    unsigned hits = 0;
    explicit Probe(uint64_t l) : len(l) {}
    void check(uint64_t off, size_t n) {
        if (!(n == 1 || n == 2 || n == 4 || n == 8) || off >= len || n > len - off) __builtin_trap();
        ++hits;
    }
    void read(uint64_t off, std::span<uint8_t> d) override { check(off, d.size()); std::memset(d.data(), 0x5a, d.size()); }
    void write(uint64_t off, std::span<const uint8_t> d) override { check(off, d.size()); }
};

struct Machine {
    Bus pio, mmio;
    std::shared_ptr<Probe> pprobe = std::make_shared<Probe>(0x10), mprobe = std::make_shared<Probe>(0x1000);
    Machine() {
        std::make_shared<I8042>([] {})->attach(pio);
        RtcCmos::attach(pio, std::make_shared<RtcCmos>(256u << 20, 0, [] { return time_t(1700000000); }));
        std::make_shared<AcpiPm>([](bool) {}, [] {}, [] {}, [] { return uint64_t(0); })->attach(pio);
        PortSink::attach_defaults(pio);
        pio.insert(0x3f8, 8, std::make_shared<UartPio>(std::make_shared<Uart16550>([](bool) {}, [](uint8_t) {})), "com1");
        pio.insert(0x1000, 0x10, pprobe, "probe");
        mmio.insert(0xfee00000, 0x1000, mprobe, "mprobe");
        mmio.insert(0xffffffffffffff00ull, 0xff, std::make_shared<Probe>(0xff), "top");
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Machine m;  // devices keep state across inputs, as in a long-running guest
    FuzzedDataProvider in(data, size);
    constexpr size_t kPage = 4096;
    std::vector<uint8_t> area(2 * kPage);
    auto* run = reinterpret_cast<kvm_run*>(area.data());
    auto head = in.ConsumeBytes<uint8_t>(sizeof(kvm_run));
    if (!head.empty()) std::memcpy(area.data(), head.data(), head.size());
    constexpr uint32_t kReasons[] = {KVM_EXIT_IO, KVM_EXIT_MMIO, KVM_EXIT_HLT, KVM_EXIT_SHUTDOWN,
                                     KVM_EXIT_SYSTEM_EVENT, KVM_EXIT_FAIL_ENTRY, KVM_EXIT_INTERNAL_ERROR,
                                     KVM_EXIT_INTR, KVM_EXIT_DEBUG};
    if (in.ConsumeBool()) run->exit_reason = kReasons[in.ConsumeIntegralInRange<size_t>(0, 8)];
    if (run->exit_reason == KVM_EXIT_IO) {
        if (in.ConsumeBool()) {
            run->io.port = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint16_t>(0x3f0, 0x40f)
                                            : in.ConsumeIntegralInRange<uint16_t>(0x60, 0x80);
            run->io.size = uint8_t(1u << in.ConsumeIntegralInRange(0, 2));
        }
        run->io.data_offset = KVM_PIO_PAGE_OFFSET * kPage;  // KVM's contract
        if (run->io.size == 0) run->io.count = 0;
        else if (uint64_t(run->io.size) * run->io.count > kPage) run->io.count = kPage / run->io.size;
    }
    if (run->exit_reason == KVM_EXIT_MMIO && in.ConsumeBool())
        run->mmio.phys_addr = 0xfee00000 + in.ConsumeIntegralInRange(0, 0x1008);
    auto payload = in.ConsumeRemainingBytes<uint8_t>();
    if (!payload.empty()) std::memcpy(area.data() + kPage, payload.data(), std::min(payload.size(), kPage));

    VcpuExit e = decode_exit(run);
    if (!e.data.empty() && (e.data.data() < area.data() || e.data.data() + e.data.size() > area.data() + area.size()))
        __builtin_trap();
    const bool strict = head.size() > 1 && (head[1] & 1);
    ExitHandler h(m.pio, m.mmio, {.strict_io = strict});
    std::vector<uint8_t> before(e.data.begin(), e.data.end());
    ExitResult r = h.handle(e);
    using K = VcpuExit::Kind;
    switch (e.kind) {
        case K::Io: case K::Mmio: {
            const bool width_ok = e.size == 1 || e.size == 2 || e.size == 4 || e.size == 8;
            if (!width_ok && r.action != ExitAction::Error) __builtin_trap();
            if (r.action != ExitAction::Continue && r.action != ExitAction::Error) __builtin_trap();
            if (r.action == ExitAction::Error && r.message.empty()) __builtin_trap();
            if (e.write && !std::equal(before.begin(), before.end(), e.data.begin())) __builtin_trap();
            if (!strict && width_ok && r.action != ExitAction::Continue) __builtin_trap();
            const Bus& bus = e.kind == K::Io ? m.pio : m.mmio;
            bool covered = false;
            for (const auto& en : bus.entries())
                covered |= e.addr >= en.base && e.addr - en.base < en.len && e.size <= en.len - (e.addr - en.base);
            if (width_ok && !covered && e.count > 0) {
                if (strict != (r.action == ExitAction::Error)) __builtin_trap();
                if (!strict && !e.write)
                    for (uint8_t b : e.data) if (b != 0xff) __builtin_trap();
            }
            break;
        }
        case K::Hlt: if (r.action != ExitAction::Halt) __builtin_trap(); break;
        case K::Shutdown: if (r.action != ExitAction::TripleFault) __builtin_trap(); break;
        case K::Interrupted: case K::Debug: if (r.action != ExitAction::Continue) __builtin_trap(); break;
        case K::SystemEvent:
            if (r.action == ExitAction::Continue || r.action == ExitAction::Halt) __builtin_trap();
            break;
        default: if (r.action != ExitAction::Error) __builtin_trap(); break;
    }
    (void)exit_status_for(r.action);
    return 0;
}
