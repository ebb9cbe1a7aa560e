#include "virtio/virtio_console.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/le_bytes.h"
#include "platform/pci_emulation.h"
#include "virtio/queue.h"

namespace khyve {

using namespace virtio_console;

namespace {
bool is_socket(int fd) {
    struct stat st{};
    return fd >= 0 && ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}
}  // namespace

VirtioConsole::VirtioConsole(Fd in, Fd out) : in_(std::move(in)), out_owned_(std::move(out)) {
    out_fd_ = out_owned_.get();
    out_is_socket_ = is_socket(out_fd_);
}

std::unique_ptr<VirtioConsole> VirtioConsole::listen(const std::string& path) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof sa.sun_path)
        throw Error("virtio-console: socket path too long: " + path);
    std::memcpy(sa.sun_path, path.data(), path.size());
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) throw Error("virtio-console: " + path + " exists and is not a socket");
        ::unlink(path.c_str());
    }
    Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!s.valid()) throw sys_error("virtio-console: socket");
    // The guest's console is the operator's alone, whatever the umask: the
    // socket is created 0600 (the mask applies at bind, before anyone can
    // connect), as the control socket is.
    mode_t old = ::umask(0077);
    int rc = ::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    ::umask(old);
    if (rc < 0) throw sys_error("virtio-console: bind " + path);
    if (::chmod(path.c_str(), 0600) < 0) throw sys_error("virtio-console: chmod " + path);
    if (::listen(s.get(), 1) < 0) throw sys_error("virtio-console: listen " + path);
    std::unique_ptr<VirtioConsole> c(new VirtioConsole());
    c->listen_ = std::move(s);
    c->path_ = path;
    return c;
}

VirtioConsole::~VirtioConsole() {
    if (!path_.empty()) ::unlink(path_.c_str());
}

void VirtioConsole::read_config(uint32_t offset, std::span<uint8_t> data) {
    uint8_t cfg[kConfigSize] = {};  // cols, rows 0 (no SIZE); max_nr_ports 1
    put_le<uint32_t>(cfg, kCfgMaxPorts, 1);
    if (offset > kConfigSize || data.size() > kConfigSize - offset) {
        std::memset(data.data(), 0, data.size());
        return;
    }
    std::memcpy(data.data(), cfg + offset, data.size());
}

void VirtioConsole::write_config(uint32_t offset, std::span<const uint8_t> data) {
    // emerg_wr: one character out, usable before the queues work.
    if (offset == kCfgEmergWr && !data.empty()) emit(data.first(1));
}

bool VirtioConsole::activate(const VirtioActivation& a) {
    if (a.queues.size() < 2 || !a.worker || !a.interrupt) return false;
    act_ = a;
    rx_ = a.queues[0].ready() ? &a.queues[0] : nullptr;
    tx_ = a.queues[1].ready() ? &a.queues[1] : nullptr;
    if (listen_.valid()) a.worker->add_fd(listen_.get(), [this] { on_listen(); });
    watch_input(true);
    return true;
}

void VirtioConsole::reset() {
    act_ = {};
    rx_ = tx_ = nullptr;
    watching_input_ = false;  // the transport dropped our registrations
}

void VirtioConsole::watch_input(bool on) {
    if (on == watching_input_ || !act_.worker) return;
    if (on) {
        if (!in_.valid() || input_eof_ || !rx_) return;
        watched_fd_ = in_.get();
        act_.worker->add_fd(watched_fd_, [this] { on_input(); });
    } else {
        act_.worker->remove_fd(watched_fd_);
    }
    watching_input_ = on;
}

void VirtioConsole::queue_notify(unsigned index) {
    if (index == 0) {
        watch_input(true);  // new receive buffers
    } else if (index == 1) {
        process_tx();
    }
}

void VirtioConsole::drop_client() {
    watch_input(false);
    std::lock_guard lk(out_mu_);
    out_fd_ = -1;
    in_.reset();
    pending_.clear();
    out_is_socket_ = false;
}

void VirtioConsole::on_listen() {
    Fd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!c.valid()) return;
    if (in_.valid()) return;  // one client at a time: the newcomer is closed
    in_ = std::move(c);
    {
        std::lock_guard lk(out_mu_);
        out_fd_ = in_.get();
        out_is_socket_ = true;
    }
    input_eof_ = false;
    watch_input(true);
}

void VirtioConsole::on_input() {
    if (!rx_) return;
    bool used = false;
    for (int i = 0; i < 16; i++) {
        auto chain = rx_->pop();
        if (!chain) {
            watch_input(false);  // resumes on the next receiveq notify
            break;
        }
        if (chain->writable_bytes() == 0) {
            rx_->add_used(*chain, 0);  // no room at all: hand it back empty
            used = true;
            continue;
        }
        std::vector<iovec> iov;
        for (auto sp : chain->writer().take_spans(chain->writable_bytes()))
            if (iov.size() < 1024) iov.push_back({sp.data(), sp.size()});
        ssize_t n = ::readv(in_.get(), iov.data(), int(iov.size()));
        if (n > 0) {
            rx_->add_used(*chain, uint32_t(n));
            used = true;
            continue;
        }
        int err = errno;
        rx_->undo_pop();
        if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)) break;
        // EOF or a hard error: a socket client left; stdin closed.
        if (listen_.valid()) {
            drop_client();
        } else {
            input_eof_ = true;
            watch_input(false);
        }
        break;
    }
    if (used && rx_->flush_used()) act_.interrupt->signal_used_queue(0);
}

void VirtioConsole::process_tx() {
    if (!tx_) return;
    while (auto chain = tx_->pop()) {
        Reader r = chain->reader();
        for (auto s : r.take_spans(r.available())) emit(s);
        tx_->add_used(*chain, 0);
    }
    if (tx_->flush_used()) act_.interrupt->signal_used_queue(1);
}

ssize_t VirtioConsole::write_out_locked(const uint8_t* p, size_t n) {
    if (out_fd_ < 0) return ssize_t(n);  // nobody listening: output goes nowhere
    ssize_t r;
    do {
        r = out_is_socket_ ? ::send(out_fd_, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) : ::write(out_fd_, p, n);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return ssize_t(n);  // broken: discard
    return r < 0 ? 0 : r;
}

void VirtioConsole::flush_pending_locked() {
    if (pending_.empty()) return;
    ssize_t w = write_out_locked(pending_.data(), pending_.size());
    pending_.erase(pending_.begin(), pending_.begin() + w);
}

void VirtioConsole::emit(std::span<const uint8_t> data) {
    std::lock_guard lk(out_mu_);
    flush_pending_locked();
    size_t done = 0;
    if (pending_.empty()) done = size_t(write_out_locked(data.data(), data.size()));
    size_t rest = data.size() - done;
    size_t room = kOutputLimit - pending_.size();
    size_t keep = std::min(rest, room);
    pending_.insert(pending_.end(), data.begin() + done, data.begin() + done + keep);
    dropped_ += rest - keep;
}

namespace {

constexpr EmulationOption kConsoleOptions[] = {
    {"port1", "string",
     "stdio, for bhyve's standard input and output, or the path of a Unix domain socket that bhyve creates "
     "(replacing an old socket there) and on which it serves one client at a time. Further ports (port2 and up) "
     "are not supported yet.",
     nullptr, "port1=stdio or port1=/path/to/socket"},
};

std::shared_ptr<VirtioDevice> make_console(const EmulationArgs& a) {
    const std::string& target = *a.get("port1");
    if (target == "stdio") {
        Fd in(::fcntl(0, F_DUPFD_CLOEXEC, 3)), out(::fcntl(1, F_DUPFD_CLOEXEC, 3));
        if (!in.valid() || !out.valid()) throw sys_error("virtio-console: dup stdio");
        return std::make_shared<VirtioConsole>(std::move(in), std::move(out));
    }
    return VirtioConsole::listen(target);
}

}  // namespace

const PciEmulation kVirtioConsoleEmulation{
    .name = "virtio-console",
    .summary = "virtio console ports on Unix sockets",
    .description = "Virtio console with one port.",
    .options = kConsoleOptions,
    .make_virtio = make_console,
};

}  // namespace khyve
