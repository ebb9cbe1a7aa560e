#include "virtio/virtio_net.h"

#include <linux/if_tun.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/config_values.h"
#include "common/error.h"
#include "common/le_bytes.h"
#include "common/size.h"
#include "net/tap.h"
#include "virtio/queue.h"

namespace khyve {

using namespace virtio_net;

namespace {

constexpr size_t kHdr = sizeof(NetHdr);
constexpr size_t kMaxIov = 1024;  // IOV_MAX
constexpr int kRxBudget = 64;     // packets per wake-up, so TX gets its turn

// The tap was deleted or detached (EBADFD), the fd closed, or, for a
// socket-backed port, the peer went away.
bool port_gone(int err) {
    return err == EIO || err == EBADF || err == EBADFD || err == ENODEV || err == ENXIO || err == EPIPE ||
           err == ECONNRESET;
}

}  // namespace

namespace virtio_net {

bool tx_header_ok(const NetHdr& h, uint32_t frame_len, uint64_t f) {
    if (h.flags & ~kHdrFNeedsCsum) return false;  // DATA_VALID / RSC_INFO are receive-only
    if (h.flags & kHdrFNeedsCsum) {
        if (!(f & kFCsum)) return false;
        if (uint32_t(h.csum_start) + h.csum_offset + 2 > frame_len) return false;
    }
    const uint8_t gso = h.gso_type & ~kGsoEcn;
    if (h.gso_type & kGsoEcn) {
        if (!(f & kFHostEcn) || gso == kGsoNone) return false;
    }
    switch (gso) {
        case kGsoNone: return true;
        case kGsoTcpV4: if (!(f & kFHostTso4)) return false; break;
        case kGsoTcpV6: if (!(f & kFHostTso6)) return false; break;
        default: return false;  // UDP (UFO) and USO are not offered
    }
    return h.gso_size != 0 && (h.flags & kHdrFNeedsCsum) && h.hdr_len <= frame_len;
}

unsigned tun_offload_flags(uint64_t f) {
    if (!(f & kFGuestCsum)) return 0;  // TSO needs checksum offload too
    unsigned t = TUN_F_CSUM;
    if (f & kFGuestTso4) t |= TUN_F_TSO4;
    if (f & kFGuestTso6) t |= TUN_F_TSO6;
    if ((f & kFGuestEcn) && (t & (TUN_F_TSO4 | TUN_F_TSO6))) t |= TUN_F_TSO_ECN;
    return t;
}

}  // namespace virtio_net

VirtioNet::VirtioNet(std::unique_ptr<NetPort> port, Options o)
    : port_(std::move(port)), queue_size_(o.queue_size), mac_(o.mac), mtu_(o.mtu) {
    features_ = kFMac | kFStatus | kFMrgRxbuf | kFCsum | kFHostTso4 | kFHostTso6 | kFHostEcn |
                kFGuestCsum | kFGuestTso4 | kFGuestTso6 | kFGuestEcn;
    if (mtu_) features_ |= kFMtu;
    struct stat st{};
    port_is_socket_ = ::fstat(port_->fd(), &st) == 0 && S_ISSOCK(st.st_mode);
}

void VirtioNet::read_config(uint32_t offset, std::span<uint8_t> data) {
    uint8_t cfg[kConfigSize] = {};
    std::memcpy(cfg + kCfgMac, mac_.data(), 6);
    put_le<uint16_t>(cfg, kCfgStatus, status_.load());
    put_le<uint16_t>(cfg, kCfgMaxPairs, 1);
    put_le<uint16_t>(cfg, kCfgMtu, mtu_);
    if (offset > kConfigSize || data.size() > kConfigSize - offset) {
        std::memset(data.data(), 0, data.size());
        return;
    }
    std::memcpy(data.data(), cfg + offset, data.size());
}

bool VirtioNet::activate(const VirtioActivation& a) {
    if (a.queues.size() < 2 || !a.queues[0].ready() || !a.queues[1].ready() || !a.worker || !a.interrupt)
        return false;
    act_ = a;
    rx_ = &a.queues[0];
    tx_ = &a.queues[1];
    mrg_ = a.features & kFMrgRxbuf;
    if (!port_->set_offload(tun_offload_flags(a.features)))
        std::fprintf(stderr, "khyve: virtio-net %s: offloads refused; receiving without them\n",
                     port_->name().c_str());
    if (!port_dead_) watch_port(true);
    return true;
}

void VirtioNet::reset() {
    // The transport has joined the worker and dropped our fd registration.
    stash_.clear();
    stash_bytes_ = 0;
    pending_len_ = 0;
    watching_ = false;
    act_ = {};
    rx_ = tx_ = nullptr;
    mrg_ = false;
    if (!port_dead_) port_->set_offload(0);
}

void VirtioNet::queue_notify(unsigned index) {
    if (!rx_) return;
    if (index == 0) {
        // New receive buffers: start watching the port again, and place a
        // held packet now (the port may have nothing more to say).
        if (!port_dead_) watch_port(true);
        if (pending_len_) on_port_readable();
    } else if (index == 1) {
        process_tx();
    }
}

void VirtioNet::watch_port(bool on) {
    if (on == watching_) return;
    if (on) {
        watched_fd_ = port_->fd();
        act_.worker->add_fd(watched_fd_, [this] { on_port_readable(); });
    } else {
        act_.worker->remove_fd(watched_fd_);
    }
    watching_ = on;
}

void VirtioNet::port_failed(int err) {
    if (port_dead_) return;
    port_dead_ = true;
    std::fprintf(stderr, "khyve: virtio-net %s: %s; link down\n", port_->name().c_str(), std::strerror(err));
    watch_port(false);
    status_.store(0);
    if (act_.features & kFStatus) act_.interrupt->signal_config_changed();
}

void VirtioNet::process_tx() {
    while (auto chain = tx_->pop()) {
        transmit(*chain);
        tx_->add_used(*chain, 0);
    }
    if (tx_->flush_used()) act_.interrupt->signal_used_queue(1);
}

void VirtioNet::transmit(const DescriptorChain& chain) {
    const uint32_t readable = chain.readable_bytes();
    if (readable < kHdr || readable - kHdr < kMinFrame || readable - kHdr > kMaxFrame || port_dead_) {
        ++counters_.tx_dropped;
        return;
    }
    const uint32_t frame = readable - uint32_t(kHdr);
    Reader r = chain.reader();
    // The header is used from our copy: the guest cannot change it between
    // the check and the kernel reading it.
    NetHdr hdr = *r.read_obj<NetHdr>();
    hdr.num_buffers = 0;
    if (!tx_header_ok(hdr, frame, act_.features)) {
        ++counters_.tx_dropped;
        return;
    }
    auto spans = r.take_spans(frame);
    if (spans.size() + 1 > kMaxIov) {
        ++counters_.tx_dropped;
        return;
    }
    iov_.clear();
    iov_.push_back({&hdr, kHdr});
    for (auto s : spans) iov_.push_back({s.data(), s.size()});
    ssize_t n;
    do {
        if (port_is_socket_) {
            // A socket port whose peer vanished must give EPIPE, not SIGPIPE.
            msghdr m{};
            m.msg_iov = iov_.data();
            m.msg_iovlen = iov_.size();
            n = ::sendmsg(port_->fd(), &m, MSG_NOSIGNAL);
        } else {
            n = ::writev(port_->fd(), iov_.data(), int(iov_.size()));
        }
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        int err = errno;
        ++counters_.tx_dropped;  // EAGAIN/ENOBUFS: the host is congested, like a full wire
        if (port_gone(err)) port_failed(err);
        return;
    }
    ++counters_.tx_packets;
    counters_.tx_bytes.add(frame);
}

size_t VirtioNet::max_rx_bytes() const {
    if (act_.features & (kFGuestTso4 | kFGuestTso6 | kFGuestUfo)) return kHdr + kMaxFrame;
    return kHdr + 14 + 4 + (mtu_ ? mtu_ : 1500);  // Ethernet header, VLAN tag, payload
}

bool VirtioNet::fill_stash(size_t want) {
    const size_t max_held = mrg_ ? rx_->size() : 1;
    while (stash_bytes_ < want && stash_.size() < max_held) {
        auto chain = rx_->pop();
        if (!chain) break;
        if (chain->writable_bytes() < kHdr) {
            // Cannot even hold the header: give it back empty.
            rx_->add_used(*chain, 0);
            continue;
        }
        Held h{*chain, {}, chain->writable_bytes()};
        h.spans = chain->writer().take_spans(h.capacity);
        stash_bytes_ += h.capacity;
        stash_.push_back(std::move(h));
    }
    return stash_bytes_ >= want;
}

bool VirtioNet::read_error(int err) {
    if (err == EAGAIN || err == EWOULDBLOCK) return false;
    if (err == EINTR) return true;
    if (port_gone(err)) {
        port_failed(err);
        return false;
    }
    ++counters_.rx_dropped;  // e.g. EFAULT: the packet did not fit and is gone
    return true;
}

void VirtioNet::deliver(size_t n) {
    size_t left = n;
    uint16_t count = 0;
    for (const Held& h : stash_) {
        if (left == 0) break;
        left -= std::min(left, h.capacity);
        ++count;
    }
    // tun fills the first 10 header bytes; num_buffers is ours to write.
    Writer w = stash_.front().chain.writer();
    w.skip(offsetof(NetHdr, num_buffers));
    w.write_obj<uint16_t>(count);
    left = n;
    for (uint16_t i = 0; i < count; i++) {
        Held& h = stash_.front();
        size_t take = std::min(left, h.capacity);
        rx_->add_used(h.chain, uint32_t(take));
        left -= take;
        stash_bytes_ -= h.capacity;
        stash_.pop_front();
    }
    ++counters_.rx_packets;
    counters_.rx_bytes.add(n - kHdr);
}

bool VirtioNet::receive_one() {
    if (port_dead_) return false;
    if (pending_len_ == 0) {
        // Without MRG_RXBUF the driver's every buffer must hold any packet.
        const bool enough = fill_stash(mrg_ ? max_rx_bytes() : 1);
        if (stash_.empty()) {
            watch_port(false);  // resumes on the next receiveq notify
            return false;
        }
        if (enough || !mrg_) {
            // Fast path: the frame lands straight in guest buffers.
            iov_.clear();
            for (const Held& h : stash_)
                for (auto sp : h.spans)
                    if (iov_.size() < kMaxIov) iov_.push_back({sp.data(), sp.size()});
            ssize_t n = ::readv(port_->fd(), iov_.data(), int(iov_.size()));
            if (n < 0) return read_error(errno);
            if (size_t(n) < kHdr) {
                ++counters_.rx_dropped;
                return true;
            }
            deliver(size_t(n));
            return true;
        }
        // Fewer buffers than the largest packet needs: read this packet to
        // learn its size, and hold it until enough buffers are there.
        if (pending_.empty()) pending_.resize(kHdr + kMaxFrame);
        ssize_t n = ::read(port_->fd(), pending_.data(), pending_.size());
        if (n < 0) return read_error(errno);
        if (size_t(n) < kHdr) {
            ++counters_.rx_dropped;
            return true;
        }
        pending_len_ = size_t(n);
    }
    if (!fill_stash(pending_len_)) {
        if (stash_.size() >= rx_->size()) {
            // The whole ring cannot hold it: it never will.
            ++counters_.rx_dropped;
            pending_len_ = 0;
            return true;
        }
        watch_port(false);
        return false;
    }
    size_t off = 0;
    for (const Held& h : stash_) {
        for (auto sp : h.spans) {
            size_t c = std::min(sp.size(), pending_len_ - off);
            std::memcpy(sp.data(), pending_.data() + off, c);
            off += c;
            if (off == pending_len_) break;
        }
        if (off == pending_len_) break;
    }
    deliver(pending_len_);
    pending_len_ = 0;
    return true;
}

void VirtioNet::on_port_readable() {
    if (!rx_) return;
    for (int i = 0; i < kRxBudget; i++)
        if (!receive_one()) break;
    if (rx_->flush_used()) act_.interrupt->signal_used_queue(0);
}

namespace {

void check_mac(std::string_view, const std::string& v) {
    auto m = parse_mac(v);
    if (!m) {
        // A well-formed multicast address gets its own words.
        std::string unicast = v;
        if (unicast.size() == 17) unicast[1] = '0';
        if (parse_mac(unicast)) throw Error("mac '" + v + "' is a multicast address");
        throw Error("invalid mac '" + v + "' (want a unicast xx:xx:xx:xx:xx:xx)");
    }
}

void check_mtu(std::string_view, const std::string& v) {
    auto m = parse_decimal(v, 65535);
    if (!m || *m < 68) throw Error("invalid mtu '" + v + "' (68-65535)");
}

constexpr EmulationOption kNetOptions[] = {
    {"backend", "string",
     "The name of a Linux tap interface, such as tap0. A tap created beforehand (ip tuntap add tap0 mode tap) is "
     "attached to; a missing one is created, which needs CAP_NET_ADMIN, and disappears when bhyve exits.",
     nullptr, "a backend (a tap interface, e.g. -s SLOT,virtio-net,tap0)"},
    {"mac", "string",
     "A unicast MAC address xx:xx:xx:xx:xx:xx; by default 58:9c:fc (the prefix FreeBSD's bhyve uses) followed by "
     "three bytes derived from the VM name, the slot and the function, the same from run to run.",
     check_mac},
    {"mtu", "integer", "The MTU offered to the guest, 68 to 65535; without it none is offered and the guest assumes 1500.",
     check_mtu},
};

std::shared_ptr<VirtioDevice> make_net(const EmulationArgs& a) {
    VirtioNet::Options o;
    o.mac = derive_mac(a.vm_name, a.addr.slot, a.addr.function);
    if (const std::string* m = a.get("mac")) o.mac = *parse_mac(*m);
    if (const std::string* m = a.get("mtu")) o.mtu = uint16_t(*parse_decimal(*m, 65535));
    return std::make_shared<VirtioNet>(Tap::open(*a.get("backend")), o);
}

}  // namespace

const PciEmulation kVirtioNetEmulation{
    .name = "virtio-net",
    .summary = "virtio network device (tap backend)",
    .description = "Virtio network device on a Linux tap interface, with checksum and segmentation offloads.",
    .positional = "backend",
    .options = kNetOptions,
    .make_virtio = make_net,
};

}  // namespace khyve
