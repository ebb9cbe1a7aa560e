// USDT (statically defined tracing) probes of provider "khyve", for
// bpftrace, perf and SystemTap; see docs/TRACING.md. Each probe is a nop
// instruction plus an ELF note (.note.stapsdt) until a tracer attaches, so
// they stay compiled in. The list of names is fixed: tools and scripts
// depend on it; add to it, never rename.
//
// Arguments are integers or `const char*` that stay valid (string literals or
// names owned by a device). They are evaluated even when nobody traces, so
// pass values at hand, not computations.
#pragma once

#if !defined(KHYVE_NO_USDT) && defined(__has_include)
#if __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
#define KHYVE_USDT 1
#endif
#endif

#ifdef KHYVE_USDT
#define KHYVE_PROBE2(name, a, b) DTRACE_PROBE2(khyve, name, a, b)
#define KHYVE_PROBE3(name, a, b, c) DTRACE_PROBE3(khyve, name, a, b, c)
#define KHYVE_PROBE4(name, a, b, c, d) DTRACE_PROBE4(khyve, name, a, b, c, d)
#else
// Without <sys/sdt.h> (systemtap-sdt-dev) the probes vanish; the arguments
// are still "used" so -Werror builds do not trip over them.
#define KHYVE_PROBE2(name, a, b) \
    do {                         \
        (void)(a);               \
        (void)(b);               \
    } while (0)
#define KHYVE_PROBE3(name, a, b, c) \
    do {                            \
        (void)(a);                  \
        (void)(b);                  \
        (void)(c);                  \
    } while (0)
#define KHYVE_PROBE4(name, a, b, c, d) \
    do {                               \
        (void)(a);                     \
        (void)(b);                     \
        (void)(c);                     \
        (void)(d);                     \
    } while (0)
#endif

// vcpu: unsigned index; reason: KVM exit_reason (KVM_EXIT_*, linux/kvm.h).
#define KHYVE_PROBE_VM_EXIT(vcpu, reason) KHYVE_PROBE2(vm_exit, unsigned(vcpu), unsigned(reason))
// action: int(ExitAction) the exit handler decided (0 = Continue).
#define KHYVE_PROBE_VM_EXIT_RETURN(vcpu, action) KHYVE_PROBE2(vm_exit_return, unsigned(vcpu), int(action))
// port: I/O port; size: access width in bytes; is_write: 1 for OUT.
#define KHYVE_PROBE_PIO(port, size, is_write) \
    KHYVE_PROBE3(pio, unsigned(port), unsigned(size), int(bool(is_write)))
// addr: guest physical address.
#define KHYVE_PROBE_MMIO(addr, size, is_write) \
    KHYVE_PROBE3(mmio, (unsigned long long)(addr), unsigned(size), int(bool(is_write)))
// device: const char* device name ("virtio-blk", ...); queue: queue index.
#define KHYVE_PROBE_VIRTQ_NOTIFY(device, queue) \
    KHYVE_PROBE2(virtq_notify, static_cast<const char*>(device), unsigned(queue))
// len: bytes written into the chain (the used ring's len).
#define KHYVE_PROBE_VIRTQ_COMPLETE(device, queue, len) \
    KHYVE_PROBE3(virtq_complete, static_cast<const char*>(device), unsigned(queue), unsigned(len))
// sector: first 512-byte sector; len: bytes; type: VIRTIO_BLK_T_* request type;
// cookie: a pointer unique among requests in flight (the request slot), so
// that a tracer can pair blk_submit with blk_complete for latencies.
#define KHYVE_PROBE_BLK_SUBMIT(sector, len, type, cookie)                                  \
    KHYVE_PROBE4(blk_submit, (unsigned long long)(sector), (unsigned long long)(len), unsigned(type), \
                 static_cast<const void*>(cookie))
// status: VIRTIO_BLK_S_* (0 = OK); cookie: as given to blk_submit.
#define KHYVE_PROBE_BLK_COMPLETE(status, cookie) \
    KHYVE_PROBE2(blk_complete, unsigned(status), static_cast<const void*>(cookie))
