// The control channel of a running bhyve: a UNIX stream socket beside the VM
// object (owner-only), one JSON request line in, one JSON reply line out.
// Requests carry "version": 1 and "command"; replies carry "ok" and either the
// result or "error". See docs/CONTROL.md.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/fd.h"

namespace khyve {

inline constexpr int kControlProtocolVersion = 1;
inline constexpr size_t kControlMaxRequest = 64 * 1024;

class ControlServer {
public:
    using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

    // Binds `path` (replacing a stale socket) with mode 0600; start() serves
    // requests on its own thread until destroyed.
    ControlServer(std::string path, Handler handler);
    void start();
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Validates and dispatches one request line; never throws.
    static std::string serve_line(const std::string& line, const Handler& handler);

private:
    void loop();
    void serve_connection(int fd);
    std::string path_;
    Handler handler_;
    Fd listen_, stop_;
    std::thread thread_;
};

// Sends one request to the control socket at `path` and returns the reply.
// Throws Error when the VM is not running or the reply is malformed.
nlohmann::json control_request(const std::string& path, const nlohmann::json& request,
                               int timeout_ms = 5000);

// Debugging aid (bhyvectl --raw-request): connects to `path`, copies in_fd
// to the socket verbatim as it arrives (no framing added; EOF half-closes),
// and returns bhyve's reply line as received. Throws Error when the VM is
// not running or no reply comes within timeout_ms of the connection.
std::string control_request_raw(const std::string& path, int in_fd, int timeout_ms = 5000);

}  // namespace khyve
