// The counters each part of the VMM keeps about itself. Devices include only
// this header: they bump counters and know nothing of the registry, the
// control socket or the output formats (src/stats/stats.h reads them).
#pragma once

#include "stats/counter.h"

namespace khyve {

// Exits a vCPU thread handled in user space, by kind. Exits KVM handles in
// the kernel are in KVM's own statistics instead.
struct VcpuCounters {
    Counter exits;         // every exit that reached user space (the sum of the kinds)
    Counter io, mmio, hlt, shutdown, system_event, debug, other;
    Counter kicks;         // other threads interrupted KVM_RUN
};

// One virtqueue, kept by the transport (notifications, interrupts) and the
// queue itself (buffers returned to the driver).
struct QueueCounters {
    Counter notifications;  // driver kicks (ioeventfd signals, trapped notify writes)
    Counter interrupts;     // used-buffer interrupts raised (MSI-X message or INTx)
    Counter used;           // buffers placed in the used ring
};

// virtio-blk requests by type, as parsed; bytes as completed successfully.
struct BlockCounters {
    Counter reads, writes, flushes, discards, write_zeroes, get_ids, unknown;
    Counter bytes_read, bytes_written;
    Counter io_errors;     // completed with VIRTIO_BLK_S_IOERR (guest or host fault)
    Counter unsupported;   // completed with VIRTIO_BLK_S_UNSUPP
};

// virtio-net frames and bytes (without the virtio-net header).
struct NetCounters {
    Counter tx_packets, tx_bytes, tx_dropped;
    Counter rx_packets, rx_bytes, rx_dropped;
};

// A 16550: bytes the guest transmitted, bytes the host gave it.
struct UartCounters {
    Counter tx_bytes, rx_bytes;
};

}  // namespace khyve
