// GDB remote serial protocol framing: "$payload#cs" packets, '+'/'-'
// acknowledgements and the out-of-band Ctrl-C (0x03). Pure byte handling, no
// I/O, so the framing is unit-tested without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace khyve::gdb {

// Largest payload we accept from gdb and advertise as PacketSize. Big enough
// for a full 'G' packet and 4 KiB memory writes in hex.
inline constexpr size_t kMaxPacket = 16 * 1024;

uint8_t checksum(std::string_view payload);

// "$payload#cs" with '$', '#', '}' and '*' escaped, so that no reply can be
// misread as a frame boundary or as run-length encoding.
std::string frame(std::string_view payload);

// Undoes '}'-escaping (binary data in 'X' packets). False when the input ends
// in the middle of an escape.
bool unescape_binary(std::string_view in, std::string& out);

// Hex helpers. from_hex* return nullopt on any non-hex character or bad length.
std::string to_hex(std::span<const uint8_t> bytes);
std::string to_hex(std::string_view text);
std::optional<std::vector<uint8_t>> from_hex(std::string_view hex);
std::optional<uint64_t> parse_hex_u64(std::string_view hex);

struct RspEvent {
    enum class Kind {
        Packet,       // a complete packet with a good checksum: payload is raw (still escaped)
        BadChecksum,  // reply '-' so gdb retransmits
        Oversized,    // longer than the limit: the payload was dropped
        Interrupt,    // Ctrl-C (0x03) outside a packet
        Ack,          // '+'
        Nack,         // '-': resend the last reply
    };
    Kind kind;
    std::string payload;
};

// Incremental decoder: bytes arrive in arbitrary pieces from the socket.
// Memory stays bounded by max_payload whatever the peer sends.
class PacketReader {
public:
    explicit PacketReader(size_t max_payload = kMaxPacket) : max_(max_payload) {}
    void feed(std::string_view bytes, std::vector<RspEvent>& out);

private:
    enum class State { Idle, Payload, Check1, Check2 };
    State state_ = State::Idle;
    size_t max_;
    std::string buf_;
    bool overflow_ = false;
    uint8_t sum_ = 0;
    char cs_hi_ = 0;
};

}  // namespace khyve::gdb
