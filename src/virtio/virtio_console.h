// virtio-console (virtio 1.2, section 5.3) with one port (no MULTIPORT):
// receiveq0 carries host input to the guest, transmitq0 guest output out.
//
// bhyve: -s N,virtio-console,port1=stdio | port1=/path/to/socket
//
// The port is either a pair of fds (stdio: dup()s of 0 and 1) or a UNIX
// stream socket that khyve listens on, serving one client at a time.
// Everything runs on the transport's worker thread, except emergency writes
// (EMERG_WRITE, a vCPU thread), which share the output lock.
//
// Bounded buffers: input is read straight into guest receive buffers, never
// queued on the host (without buffers the device stops watching the input
// until the next receiveq notify); output the host cannot take right away
// (a socket client that does not read) is kept up to 64 KiB, the rest is
// dropped and counted, so a stalled reader never stalls the guest nor grows
// our memory.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/fd.h"
#include "platform/pci_emulation.h"
#include "virtio/chain.h"
#include "virtio/virtio_device.h"

namespace khyve {

namespace virtio_console {
inline constexpr uint64_t kFSize = 1ull << 0;
inline constexpr uint64_t kFMultiport = 1ull << 1;
inline constexpr uint64_t kFEmergWrite = 1ull << 2;
inline constexpr uint32_t kCfgCols = 0;
inline constexpr uint32_t kCfgRows = 2;
inline constexpr uint32_t kCfgMaxPorts = 4;
inline constexpr uint32_t kCfgEmergWr = 8;
inline constexpr uint32_t kConfigSize = 12;
inline constexpr size_t kOutputLimit = 64 * 1024;
}  // namespace virtio_console

class VirtioConsole final : public VirtioDevice {
public:
    // Input from in, output to out (may be the same fd). Takes ownership.
    VirtioConsole(Fd in, Fd out);
    // Listens on a UNIX stream socket at path (an old socket there is
    // replaced; any other file is an error). Throws khyve::Error.
    static std::unique_ptr<VirtioConsole> listen(const std::string& path);
    ~VirtioConsole() override;

    uint32_t device_type() const override { return virtio::kTypeConsole; }
    uint64_t features() const override { return virtio_console::kFEmergWrite; }
    unsigned num_queues() const override { return 2; }
    uint16_t queue_max_size(unsigned) const override { return 64; }
    uint32_t config_size() const override { return virtio_console::kConfigSize; }
    void read_config(uint32_t offset, std::span<uint8_t> data) override;
    void write_config(uint32_t offset, std::span<const uint8_t> data) override;
    bool activate(const VirtioActivation& activation) override;
    void queue_notify(unsigned index) override;
    void reset() override;

    // Worker callbacks (public for tests).
    void on_input();
    void on_listen();
    uint64_t output_dropped() const { return dropped_; }
    size_t output_pending() const { return pending_.size(); }

private:
    VirtioConsole() = default;
    void process_tx();
    void emit(std::span<const uint8_t> data);  // takes out_mu_
    void flush_pending_locked();
    ssize_t write_out_locked(const uint8_t* p, size_t n);
    void watch_input(bool on);
    void drop_client();

    Fd in_, out_owned_, listen_;
    int out_fd_ = -1;  // out_owned_, or the socket client (owned by in_); under out_mu_
    std::string path_;
    bool out_is_socket_ = false;
    bool input_eof_ = false;

    std::mutex out_mu_;
    std::vector<uint8_t> pending_;
    uint64_t dropped_ = 0;

    VirtioActivation act_{};
    Queue* rx_ = nullptr;
    Queue* tx_ = nullptr;
    bool watching_input_ = false;
    int watched_fd_ = -1;
};

// The -s virtio-console entry (src/platform/pci_emulation.h): "port1",
// "stdio" or a socket path.
extern const PciEmulation kVirtioConsoleEmulation;

}  // namespace khyve
