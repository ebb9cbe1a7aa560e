// Guest accesses to PCI: config space through 0xCF8/0xCFC and ECAM, BARs
// through the bus windows, with a host bridge, an LPC bridge and two virtio
// functions (rng in slot 3; a second rng as function 1 of slot 4) on the bus.
// BAR programming moves the devices' BARs around; the virtio transports see
// common-config, notify, ISR, MSI-X table and PBA accesses at whatever
// addresses the input gives them.
#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_common.h"
#include "pci/hostbridge.h"
#include "pci/lpc.h"
#include "pci/pci_bus.h"
#include "pci/pci_conf1.h"
#include "pci/pci_ecam.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtio_rng.h"

using namespace khyve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    fuzz::FakeRam ram;
    ram.add(0, 0x100000);
    test::FakeIrq irq;

    PciWindows w;
    w.mem64_base = 0x800000000ull;
    w.mem64_size = 0x100000000ull;
    auto bus = std::make_shared<PciBus>(w, &irq);
    bus->add(0, 0, std::make_shared<HostBridge>());
    bus->add(31, 0, std::make_shared<LpcBridge>());
    bus->add(3, 0, std::make_shared<VirtioPci>(std::make_shared<VirtioRng>(), ram.mem, &irq, nullptr));
    bus->add(4, 0, std::make_shared<HostBridge>(HostBridge::Flavour::kAmd));
    bus->add(4, 1, std::make_shared<VirtioPci>(std::make_shared<VirtioRng>(), ram.mem, &irq, nullptr));
    bus->assign_resources();
    uint8_t cf9 = 0;
    PciConf1 conf1(bus, [&](uint8_t v) { cf9 = v; }, [&] { return cf9; });
    PciEcam ecam(bus);
    auto io = bus->io_window();
    auto m32 = bus->mem32_window();
    auto m64 = bus->mem64_window();

    constexpr unsigned kPortSizes[] = {1, 2, 4};
    constexpr unsigned kMmioSizes[] = {1, 2, 4, 8};
    uint8_t buf[8];
    for (int op = 0; op < 256 && in.remaining_bytes() > 0; ++op) {
        const unsigned kind = in.ConsumeIntegralInRange(0, 5);
        const bool is_write = in.ConsumeBool();
        const uint64_t value = in.ConsumeIntegral<uint64_t>();
        std::memcpy(buf, &value, 8);
        switch (kind) {
            case 0: {  // CONFIG_ADDRESS / CONFIG_DATA / 0xCF9, as the Bus would pass them
                unsigned len = kPortSizes[in.ConsumeIntegralInRange(0, 2)];
                unsigned off = in.ConsumeIntegralInRange<unsigned>(0, PciConf1::kSize - len);
                if (is_write) conf1.write(off, {buf, len});
                else conf1.read(off, {buf, len});
                break;
            }
            case 1: {  // a CONFIG_ADDRESS aimed at an interesting function, then data
                uint32_t addr = 0x80000000u | (in.ConsumeIntegralInRange<uint32_t>(0, 4) << 16) |
                                (in.ConsumeIntegralInRange<uint32_t>(0, 31) << 11) |
                                (in.ConsumeIntegralInRange<uint32_t>(0, 7) << 8) |
                                (in.ConsumeIntegral<uint8_t>() & 0xfc);
                uint8_t a[4];
                std::memcpy(a, &addr, 4);
                conf1.write(0, {a, 4});
                unsigned len = kPortSizes[in.ConsumeIntegralInRange(0, 2)];
                unsigned off = 4 + in.ConsumeIntegralInRange<unsigned>(0, 4 - len);
                if (is_write) conf1.write(off, {buf, len});
                else conf1.read(off, {buf, len});
                break;
            }
            case 2: {  // ECAM, mostly bus 0
                unsigned len = kMmioSizes[in.ConsumeIntegralInRange(0, 3)];
                uint64_t off = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint64_t>(0, PciEcam::kSize - len)
                                                : in.ConsumeIntegralInRange<uint64_t>(0, (1u << 20) - len);
                if (is_write) ecam.write(off, {buf, len});
                else ecam.read(off, {buf, len});
                break;
            }
            case 3: case 4: case 5: {  // BAR windows
                BusDevice& win = kind == 3 ? *io : kind == 4 ? *m32 : *m64;
                uint64_t span = kind == 3 ? w.io_end - w.io_base
                                : kind == 4 ? w.mem32_end - w.mem32_base : w.mem64_size;
                unsigned len = kind == 3 ? kPortSizes[in.ConsumeIntegralInRange(0, 2)]
                                         : kMmioSizes[in.ConsumeIntegralInRange(0, 3)];
                // BARs are assigned from the window's start: aim there mostly.
                uint64_t off = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint64_t>(0, span - len)
                                                : in.ConsumeIntegralInRange<uint64_t>(0, std::min<uint64_t>(span, 0x20000) - len);
                if (is_write) win.write(off, {buf, len});
                else win.read(off, {buf, len});
                break;
            }
        }
    }
    return 0;
}
