#include "virtio/virtio_rng.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "virtio/queue.h"

namespace khyve {

void VirtioRng::read_config(uint32_t, std::span<uint8_t> data) {
    std::memset(data.data(), 0, data.size());
}

bool VirtioRng::activate(const VirtioActivation& a) {
    if (a.queues.empty() || !a.queues[0].ready()) return false;
    queue_ = &a.queues[0];
    interrupt_ = a.interrupt;
    return true;
}

void VirtioRng::queue_notify(unsigned index) {
    if (index != 0 || !queue_) return;
    while (auto chain = queue_->pop()) {
        Writer w = chain->writer();
        size_t filled = 0;
        for (auto span : w.take_spans(std::min(w.available(), kMaxPerRequest))) {
            size_t done = 0;
            while (done < span.size()) {
                ssize_t n = ::getrandom(span.data() + done, span.size() - done, 0);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    break;  // not expected once the pool is ready; hand back what we have
                }
                done += static_cast<size_t>(n);
            }
            filled += done;
            if (done < span.size()) break;
        }
        queue_->add_used(*chain, static_cast<uint32_t>(filled));
    }
    if (queue_->flush_used()) interrupt_->signal_used_queue(0);
}

void VirtioRng::reset() {
    queue_ = nullptr;
    interrupt_ = nullptr;
}

const PciEmulation kVirtioRngEmulation{
    .name = "virtio-rnd",
    .summary = "virtio entropy device",
    .description = "Virtio entropy device, fed from the host kernel's random source (getrandom(2)).",
    .make_virtio = [](const EmulationArgs&) -> std::shared_ptr<VirtioDevice> { return std::make_shared<VirtioRng>(); },
};

}  // namespace khyve
