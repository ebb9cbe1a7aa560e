#include "gdb/gdb_packet.h"

namespace khyve::gdb {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr char kHexDigits[] = "0123456789abcdef";

}  // namespace

uint8_t checksum(std::string_view payload) {
    uint8_t sum = 0;
    for (char c : payload) sum = uint8_t(sum + uint8_t(c));
    return sum;
}

std::string frame(std::string_view payload) {
    std::string body;
    body.reserve(payload.size() + 8);
    for (char c : payload) {
        if (c == '$' || c == '#' || c == '}' || c == '*') {
            body += '}';
            body += char(c ^ 0x20);
        } else {
            body += c;
        }
    }
    uint8_t cs = checksum(body);
    std::string out;
    out.reserve(body.size() + 4);
    out += '$';
    out += body;
    out += '#';
    out += kHexDigits[cs >> 4];
    out += kHexDigits[cs & 15];
    return out;
}

bool unescape_binary(std::string_view in, std::string& out) {
    out.clear();
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '}') {
            out += in[i];
            continue;
        }
        if (++i == in.size()) return false;
        out += char(in[i] ^ 0x20);
    }
    return true;
}

std::string to_hex(std::span<const uint8_t> bytes) {
    std::string s;
    s.reserve(bytes.size() * 2);
    for (uint8_t b : bytes) {
        s += kHexDigits[b >> 4];
        s += kHexDigits[b & 15];
    }
    return s;
}

std::string to_hex(std::string_view text) {
    return to_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::optional<std::vector<uint8_t>> from_hex(std::string_view hex) {
    if (hex.size() % 2) return std::nullopt;
    std::vector<uint8_t> out(hex.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = uint8_t(hi << 4 | lo);
    }
    return out;
}

std::optional<uint64_t> parse_hex_u64(std::string_view hex) {
    if (hex.empty() || hex.size() > 16) return std::nullopt;
    uint64_t v = 0;
    for (char c : hex) {
        int d = hex_value(c);
        if (d < 0) return std::nullopt;
        v = v << 4 | uint64_t(d);
    }
    return v;
}

void PacketReader::feed(std::string_view bytes, std::vector<RspEvent>& out) {
    for (char c : bytes) {
        switch (state_) {
            case State::Idle:
                // Anything between packets other than these is line noise.
                if (c == '$') {
                    state_ = State::Payload;
                    buf_.clear();
                    overflow_ = false;
                    sum_ = 0;
                } else if (c == '\x03') {
                    out.push_back({RspEvent::Kind::Interrupt, {}});
                } else if (c == '+') {
                    out.push_back({RspEvent::Kind::Ack, {}});
                } else if (c == '-') {
                    out.push_back({RspEvent::Kind::Nack, {}});
                }
                break;
            case State::Payload:
                if (c == '#') {
                    state_ = State::Check1;
                    break;
                }
                sum_ = uint8_t(sum_ + uint8_t(c));
                if (buf_.size() < max_) buf_ += c;
                else overflow_ = true;
                break;
            case State::Check1:
                cs_hi_ = c;
                state_ = State::Check2;
                break;
            case State::Check2: {
                state_ = State::Idle;
                int hi = hex_value(cs_hi_), lo = hex_value(c);
                if (hi < 0 || lo < 0 || uint8_t(hi << 4 | lo) != sum_) {
                    out.push_back({RspEvent::Kind::BadChecksum, {}});
                } else if (overflow_) {
                    out.push_back({RspEvent::Kind::Oversized, {}});
                } else {
                    out.push_back({RspEvent::Kind::Packet, std::move(buf_)});
                }
                buf_.clear();
                break;
            }
        }
    }
}

}  // namespace khyve::gdb
