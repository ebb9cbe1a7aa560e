#include "ctl/control_server.h"
#include "sandbox/seccomp.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "common/error.h"

namespace khyve {

namespace {

sockaddr_un unix_address(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path) throw Error("control socket path too long: " + path);
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return a;
}

// Reads up to a newline within timeout_ms for the whole line (a peer sending
// a byte at a time gets no more time than one sending it at once); false on
// timeout, EOF or overflow.
bool read_line(int fd, std::string& out, int timeout_ms) {
    out.clear();
    char buf[4096];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (out.find('\n') == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, int(left.count())) <= 0) return false;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return !out.empty();
        out.append(buf, size_t(n));
        if (out.size() > kControlMaxRequest) return false;
    }
    out.resize(out.find('\n'));
    return true;
}

void write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += size_t(n);
    }
}

nlohmann::json error_reply(const std::string& what) {
    return {{"version", kControlProtocolVersion}, {"ok", false}, {"error", what}};
}

}  // namespace

ControlServer::ControlServer(std::string path, Handler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {
    auto addr = unix_address(path_);
    listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listen_.valid()) throw sys_error("control socket");
    ::unlink(path_.c_str());
    mode_t old = ::umask(0077);
    int rc = ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::umask(old);
    if (rc < 0) throw sys_error("cannot bind control socket " + path_);
    ::chmod(path_.c_str(), 0600);
    if (::listen(listen_.get(), 8) < 0) throw sys_error("listen on " + path_);
    stop_.reset(::eventfd(0, EFD_CLOEXEC));
    if (!stop_.valid()) throw sys_error("eventfd");
}

void ControlServer::start() {
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
}

ControlServer::~ControlServer() {
    uint64_t one = 1;
    if (::write(stop_.get(), &one, sizeof one) < 0) { /* the thread also stops on close */ }
    if (thread_.joinable()) thread_.join();
    ::unlink(path_.c_str());
}

void ControlServer::loop() {
    enter_thread_sandbox(ThreadKind::Control);
    for (;;) {
        pollfd p[2] = {{listen_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (p[1].revents) return;
        if (p[0].revents & POLLIN) {
            Fd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (conn.valid()) serve_connection(conn.get());
        }
    }
}

void ControlServer::serve_connection(int fd) {
    // Only root and the user bhyve runs as (the VM's owner) may steer it,
    // whatever the socket's mode says.
    ucred peer{};
    socklen_t len = sizeof peer;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || len != sizeof peer) {
        write_all(fd, error_reply("cannot tell who is asking (SO_PEERCRED)").dump() + "\n");
        return;
    }
    if (peer.uid != 0 && peer.uid != ::geteuid()) {
        write_all(fd, error_reply("permission denied: uid " + std::to_string(peer.uid) +
                                  " is neither root nor the VM's owner").dump() + "\n");
        return;
    }
    std::string line;
    if (!read_line(fd, line, 2000)) {
        write_all(fd, error_reply("request too large, incomplete or too slow").dump() + "\n");
        return;
    }
    write_all(fd, serve_line(line, handler_) + "\n");
}

std::string ControlServer::serve_line(const std::string& line, const Handler& handler) {
    nlohmann::json reply;
    try {
        auto req = nlohmann::json::parse(line);
        if (!req.is_object()) reply = error_reply("request must be a JSON object");
        else if (!req.contains("version") || req["version"] != kControlProtocolVersion)
            reply = error_reply("unsupported protocol version (this bhyve speaks 1)");
        else if (!req.contains("command") || !req["command"].is_string())
            reply = error_reply("request has no command");
        else {
            reply = handler(req);
            reply["version"] = kControlProtocolVersion;
            if (!reply.contains("ok")) reply["ok"] = true;
        }
    } catch (const nlohmann::json::exception& e) {
        reply = error_reply(std::string("malformed request: ") + e.what());
    } catch (const std::exception& e) {
        reply = error_reply(e.what());
    }
    // Never throw from here: a string that is not UTF-8 is replaced, not fatal.
    return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json control_request(const std::string& path, const nlohmann::json& request,
                               int timeout_ms) {
    auto addr = unix_address(path);
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) throw sys_error("socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        throw Error("the VM is not running (no control socket at " + path + ")");
    write_all(fd.get(), request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    std::string line;
    if (!read_line(fd.get(), line, timeout_ms)) throw Error("no reply from bhyve on " + path);
    try {
        return nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
        throw Error("malformed reply from bhyve on " + path);
    }
}

std::string control_request_raw(const std::string& path, int in_fd, int timeout_ms) {
    auto addr = unix_address(path);
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) throw sys_error("socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        throw Error("the VM is not running (no control socket at " + path + ")");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    bool input_open = true;
    std::string reply;
    char buf[4096];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) throw Error("no reply from bhyve on " + path);
        pollfd p[2] = {{fd.get(), POLLIN, 0}, {input_open ? in_fd : -1, POLLIN, 0}};
        if (::poll(p, 2, int(left.count())) < 0) {
            if (errno == EINTR) continue;
            throw sys_error("poll");
        }
        if (p[0].revents) {
            ssize_t n = ::read(fd.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n > 0) reply.append(buf, size_t(n));
            // bhyve closes after its one line; a reply cut short is still shown.
            if (n <= 0 || reply.find('\n') != std::string::npos) break;
        }
        if (input_open && p[1].revents) {
            ssize_t n = ::read(in_fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                input_open = false;
                ::shutdown(fd.get(), SHUT_WR);
            } else {
                // bhyve may have answered and closed already (request too large).
                write_all(fd.get(), std::string(buf, size_t(n)));
            }
        }
    }
    if (reply.empty()) throw Error("no reply from bhyve on " + path);
    if (auto nl = reply.find('\n'); nl != std::string::npos) reply.resize(nl);
    return reply;
}

}  // namespace khyve
