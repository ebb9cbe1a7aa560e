#include "gdb/gdb_server.h"

#include <sys/prctl.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "sandbox/seccomp.h"
#include "gdb/gdb_packet.h"

namespace khyve::gdb {

namespace {

void signal_eventfd(int fd) {
    uint64_t one = 1;
    if (::write(fd, &one, sizeof one) < 0) { /* counter saturated: already signalled */ }
}

void drain_eventfd(int fd) {
    uint64_t v;
    if (::read(fd, &v, sizeof v) < 0) { /* nothing pending */ }
}

Fd bind_listener(const std::string& address, uint16_t port, uint16_t& bound) {
    std::string host = address;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string service = std::to_string(port);
    int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
    if (rc != 0) throw Error("gdb server address " + address + ": " + ::gai_strerror(rc));
    Fd fd;
    int err = 0;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        Fd s(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
        if (!s.valid()) {
            err = errno;
            continue;
        }
        int on = 1;
        ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (::bind(s.get(), ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(s.get(), 1) == 0) {
            fd = std::move(s);
            break;
        }
        err = errno;
    }
    ::freeaddrinfo(res);
    if (!fd.valid()) throw sys_error("cannot listen for gdb on " + address + ":" + service, err);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    bound = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                     : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return fd;
}

}  // namespace

GdbServer::GdbServer(GdbTarget& target, const std::string& address, uint16_t port, std::function<void()> on_kill)
    : stub_(target, GdbStub::Callbacks{[this] { signal_eventfd(stop_event_.get()); }, std::move(on_kill)}) {
    listen_ = bind_listener(address, port, port_);
    shutdown_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    stop_event_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!shutdown_.valid() || !stop_event_.valid()) throw sys_error("eventfd");
    thread_ = std::thread([this] { loop(); });
}

GdbServer::~GdbServer() {
    signal_eventfd(shutdown_.get());
    if (thread_.joinable()) thread_.join();
}

void GdbServer::wait_for_attach() {
    std::unique_lock lk(mu_);
    attach_cv_.wait(lk, [&] { return attached_once_; });
}

bool GdbServer::wait_for_attach(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    return attach_cv_.wait_for(lk, timeout, [&] { return attached_once_; });
}

void GdbServer::loop() {
    // The thread parses unauthenticated TCP input: named for ps and the
    // tests, then filtered and without capabilities like every other thread.
    ::prctl(PR_SET_NAME, "gdb", 0, 0, 0);
    enter_thread_sandbox(ThreadKind::Gdb);
    for (;;) {
        pollfd p[2] = {{listen_.get(), POLLIN, 0}, {shutdown_.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (p[1].revents) return;
        if (!(p[0].revents & POLLIN)) continue;
        Fd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!conn.valid()) continue;
        int on = 1;
        ::setsockopt(conn.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        // A debugger that stops reading must not wedge the server forever.
        timeval tv{5, 0};
        ::setsockopt(conn.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        stub_.attach();
        {
            std::lock_guard lk(mu_);
            attached_once_ = true;
        }
        attach_cv_.notify_all();
        serve(conn.get());
        stub_.detach();
        drain_eventfd(stop_event_.get());
        uint64_t v;
        if (::read(shutdown_.get(), &v, sizeof v) == sizeof v) return;
    }
}

bool GdbServer::send_all(int conn, const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::send(conn, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        off += size_t(n);
    }
    return true;
}

void GdbServer::serve(int conn) {
    PacketReader reader;
    std::vector<RspEvent> events;
    std::string last;  // for '-' retransmission
    char buf[kReadChunk];
    auto reply = [&](const std::string& payload) {
        last = frame(payload);
        return send_all(conn, last);
    };
    for (;;) {
        pollfd p[3] = {{conn, POLLIN, 0}, {stop_event_.get(), POLLIN, 0}, {shutdown_.get(), POLLIN, 0}};
        if (::poll(p, 3, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (p[2].revents) {
            signal_eventfd(shutdown_.get());  // loop() sees it too
            return;
        }
        if (p[1].revents & POLLIN) {
            drain_eventfd(stop_event_.get());
            if (auto stop = stub_.take_stop())
                if (!reply(*stop)) return;
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(conn, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        events.clear();
        reader.feed(std::string_view(buf, size_t(n)), events);
        for (auto& e : events) {
            bool ok = true;
            switch (e.kind) {
                case RspEvent::Kind::Packet: {
                    if (!stub_.no_ack()) ok = send_all(conn, "+");
                    auto r = stub_.handle(e.payload);
                    if (ok && r) ok = reply(*r);
                    if (stub_.wants_close()) return;
                    break;
                }
                case RspEvent::Kind::BadChecksum:
                    if (!stub_.no_ack()) ok = send_all(conn, "-");
                    break;
                case RspEvent::Kind::Oversized:
                    if (!stub_.no_ack()) ok = send_all(conn, "+");
                    if (ok) ok = reply("E22");
                    break;
                case RspEvent::Kind::Interrupt:
                    if (auto r = stub_.interrupt()) ok = reply(*r);
                    break;
                case RspEvent::Kind::Nack:
                    if (!last.empty()) ok = send_all(conn, last);
                    break;
                case RspEvent::Kind::Ack: break;
            }
            if (!ok) return;
        }
    }
}

}  // namespace khyve::gdb
