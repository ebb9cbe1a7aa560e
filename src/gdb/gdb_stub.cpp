#include "gdb/gdb_stub.h"

#include <algorithm>
#include <cstdio>

#include "gdb/gdb_packet.h"

namespace khyve::gdb {

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint8_t kInt3 = 0xCC;

const std::string kEinval = "E22";
const std::string kEfault = "E14";
const std::string kEnospc = "E28";
const std::string kEsrch = "E03";

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Splits "a,b" at the first `sep`.
bool split(std::string_view s, char sep, std::string_view& a, std::string_view& b) {
    auto pos = s.find(sep);
    if (pos == std::string_view::npos) return false;
    a = s.substr(0, pos);
    b = s.substr(pos + 1);
    return true;
}

// "addr,len" in hex.
bool parse_addr_len(std::string_view s, uint64_t& addr, uint64_t& len) {
    std::string_view a, l;
    if (!split(s, ',', a, l)) return false;
    auto av = parse_hex_u64(a), lv = parse_hex_u64(l);
    if (!av || !lv) return false;
    addr = *av;
    len = *lv;
    return true;
}

std::string hex_u64(uint64_t v) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string hex_byte(unsigned v) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%02x", v & 0xff);
    return buf;
}

}  // namespace

GdbStub::GdbStub(GdbTarget& target, Callbacks cb) : target_(target), cb_(std::move(cb)) {}

bool GdbStub::running() const {
    std::lock_guard lk(mu_);
    return running_;
}

void GdbStub::attach() {
    target_.pause_all();
    {
        std::lock_guard lk(mu_);
        running_ = false;
        stepping_.reset();
        pending_.reset();
    }
    attached_ = true;
    no_ack_ = false;
    close_ = false;
    g_vcpu_ = c_vcpu_ = 0;
    applied_.assign(target_.vcpu_count(), std::nullopt);
    last_stop_ = stop_reply({0, StopKind::Signal, 0, 5});
}

void GdbStub::detach() {
    if (!attached_) return;
    target_.pause_all();
    remove_all_breakpoints();
    for (unsigned v = 0; v < target_.vcpu_count(); ++v) target_.set_guest_debug(v, GuestDebug{});
    applied_.assign(target_.vcpu_count(), std::nullopt);
    {
        std::lock_guard lk(mu_);
        running_ = false;
        stepping_.reset();
        pending_.reset();
    }
    attached_ = false;
    target_.resume(std::nullopt);
}

// ---------------------------------------------------------------- vCPU side

DebugVerdict GdbStub::on_debug_exit(unsigned vcpu, const DebugExit& e) {
    std::optional<Stop> stop;
    {
        std::lock_guard lk(mu_);
        if (e.exception == 3) {
            if (sw_addrs_.count(e.pc)) stop = Stop{vcpu, StopKind::SwBreak, e.pc};
        } else if (e.exception == 1) {
            for (unsigned i = 0; i < 4 && !stop; ++i) {
                if (!(e.dr6 & (1ull << i)) || !hw_shared_[i]) continue;
                const auto& h = *hw_shared_[i];
                StopKind k = h.kind == HwBreakpoint::Kind::Exec    ? StopKind::HwBreak
                             : h.kind == HwBreakpoint::Kind::Write ? StopKind::Watch
                                                                   : StopKind::AWatch;
                stop = Stop{vcpu, k, h.addr};
            }
            if (!stop && stepping_ == vcpu) stop = Stop{vcpu, StopKind::Step, e.pc};
        }
        if (!stop) return DebugVerdict::Reinject;
        // Two vCPUs can hit breakpoints at once: gdb hears of the first; the
        // other re-executes its int3 after the resume and reports again.
        if (!pending_) pending_ = stop;
    }
    target_.request_pause();
    if (cb_.stop_pending) cb_.stop_pending();
    return DebugVerdict::Stop;
}

// ---------------------------------------------------------------- stops

std::string GdbStub::stop_reply(const Stop& s) {
    // Appended piece by piece: GCC 12 -O3 warns (-Wrestrict, falsely) on "T" + std::string.
    std::string r = "T";
    r += hex_byte(unsigned(s.signal));
    r += "thread:";
    r += hex_u64(s.vcpu + 1);
    r += ';';
    switch (s.kind) {
        case StopKind::SwBreak: r += "swbreak:;"; break;
        case StopKind::HwBreak: r += "hwbreak:;"; break;
        case StopKind::Watch: r += "watch:" + hex_u64(s.addr) + ";"; break;
        case StopKind::AWatch: r += "awatch:" + hex_u64(s.addr) + ";"; break;
        case StopKind::Step:
        case StopKind::Signal: break;
    }
    return r;
}

std::optional<std::string> GdbStub::take_stop() {
    std::optional<Stop> s;
    {
        std::lock_guard lk(mu_);
        if (!running_ || !pending_) return std::nullopt;
        s = pending_;
    }
    target_.pause_all();
    {
        std::lock_guard lk(mu_);
        running_ = false;
        stepping_.reset();
        pending_.reset();
    }
    g_vcpu_ = c_vcpu_ = s->vcpu;
    last_stop_ = stop_reply(*s);
    return last_stop_;
}

std::optional<std::string> GdbStub::interrupt() {
    {
        std::lock_guard lk(mu_);
        if (!running_) return std::nullopt;
    }
    target_.pause_all();
    std::optional<Stop> s;
    {
        std::lock_guard lk(mu_);
        s = pending_;  // a breakpoint that raced the Ctrl-C wins
        running_ = false;
        stepping_.reset();
        pending_.reset();
    }
    if (!s) s = Stop{c_vcpu_, StopKind::Signal, 0, 2};
    g_vcpu_ = c_vcpu_ = s->vcpu;
    last_stop_ = stop_reply(*s);
    return last_stop_;
}

// ---------------------------------------------------------------- resume

void GdbStub::apply_debug(std::optional<unsigned> step) {
    unsigned n = target_.vcpu_count();
    if (applied_.size() != n) applied_.assign(n, std::nullopt);
    for (unsigned v = 0; v < n; ++v) {
        GuestDebug d;
        d.enabled = true;
        d.single_step = step == v;
        d.hw = hw_;
        if (applied_[v] == d) continue;
        if (target_.set_guest_debug(v, d)) applied_[v] = d;
        else applied_[v].reset();
    }
}

void GdbStub::resume(std::optional<unsigned> step) {
    apply_debug(step);
    {
        std::lock_guard lk(mu_);
        running_ = true;
        stepping_ = step;
        pending_.reset();
    }
    target_.resume(step);
}

// ---------------------------------------------------------------- memory

std::vector<uint8_t> GdbStub::read_memory(unsigned vcpu, uint64_t gva, size_t len) {
    std::vector<uint8_t> out;
    len = std::min(len, kMaxMemoryChunk);
    out.reserve(len);
    while (out.size() < len) {
        uint64_t addr = gva + out.size();
        size_t chunk = std::min<uint64_t>(len - out.size(), kPage - (addr & (kPage - 1)));
        auto gpa = target_.translate(vcpu, addr);
        if (!gpa) break;
        size_t old = out.size();
        out.resize(old + chunk);
        if (!target_.read_phys(*gpa, std::span<uint8_t>(out.data() + old, chunk))) {
            out.resize(old);
            break;
        }
    }
    // The debugger must not see its own int3s.
    for (auto it = sw_.lower_bound(gva); it != sw_.end() && it->first - gva < out.size(); ++it)
        out[it->first - gva] = it->second.orig;
    return out;
}

bool GdbStub::write_memory(unsigned vcpu, uint64_t gva, std::span<const uint8_t> data) {
    if (data.size() > kMaxMemoryChunk) return false;
    // Translate every page first so that a fault writes nothing.
    struct Piece {
        uint64_t gpa;
        size_t off, len;
    };
    std::vector<Piece> pieces;
    for (size_t off = 0; off < data.size();) {
        uint64_t addr = gva + off;
        size_t chunk = std::min<uint64_t>(data.size() - off, kPage - (addr & (kPage - 1)));
        auto gpa = target_.translate(vcpu, addr);
        if (!gpa) return false;
        pieces.push_back({*gpa, off, chunk});
        off += chunk;
    }
    std::vector<uint8_t> bytes(data.begin(), data.end());
    // Writing over an inserted breakpoint changes the byte it restores.
    for (auto it = sw_.lower_bound(gva); it != sw_.end() && it->first - gva < bytes.size(); ++it) {
        it->second.orig = bytes[it->first - gva];
        bytes[it->first - gva] = kInt3;
    }
    for (const auto& p : pieces)
        if (!target_.write_phys(p.gpa, std::span<const uint8_t>(bytes.data() + p.off, p.len))) return false;
    return true;
}

std::string GdbStub::cmd_read_memory(std::string_view args) {
    uint64_t addr, len;
    if (!parse_addr_len(args, addr, len)) return kEinval;
    if (len == 0) return "";
    auto bytes = read_memory(g_vcpu_, addr, size_t(std::min<uint64_t>(len, kMaxMemoryChunk)));
    if (bytes.empty()) return kEfault;
    return to_hex(bytes);
}

std::string GdbStub::cmd_write_memory(std::string_view args, bool binary) {
    std::string_view head, body;
    if (!split(args, ':', head, body)) return kEinval;
    uint64_t addr, len;
    if (!parse_addr_len(head, addr, len)) return kEinval;
    std::vector<uint8_t> data;
    if (binary) {
        std::string raw;
        if (!unescape_binary(body, raw)) return kEinval;
        data.assign(raw.begin(), raw.end());
    } else {
        auto h = from_hex(body);
        if (!h) return kEinval;
        data = std::move(*h);
    }
    if (data.size() != len) return kEinval;
    if (len > kMaxMemoryChunk) return kEinval;
    if (len == 0) return "OK";  // gdb's probe for 'X' support
    return write_memory(g_vcpu_, addr, data) ? "OK" : kEfault;
}

// ---------------------------------------------------------------- breakpoints

void GdbStub::publish_breakpoints() {
    std::lock_guard lk(mu_);
    sw_addrs_.clear();
    for (const auto& [addr, bp] : sw_) sw_addrs_.insert(addr);
    hw_shared_ = hw_;
}

bool GdbStub::insert_sw(uint64_t addr) {
    if (sw_.count(addr)) return true;
    auto gpa = target_.translate(g_vcpu_, addr);
    if (!gpa) return false;
    uint8_t orig;
    if (!target_.read_phys(*gpa, std::span<uint8_t>(&orig, 1))) return false;
    const uint8_t int3 = kInt3;
    if (!target_.write_phys(*gpa, std::span<const uint8_t>(&int3, 1))) return false;
    sw_[addr] = {*gpa, orig};
    return true;
}

void GdbStub::remove_sw(uint64_t addr) {
    auto it = sw_.find(addr);
    if (it == sw_.end()) return;
    // Put the byte back only if our int3 is still there: the guest may have
    // reused the page (module unloaded, page freed) meanwhile.
    uint8_t cur;
    if (target_.read_phys(it->second.gpa, std::span<uint8_t>(&cur, 1)) && cur == kInt3)
        target_.write_phys(it->second.gpa, std::span<const uint8_t>(&it->second.orig, 1));
    sw_.erase(it);
}

void GdbStub::remove_all_breakpoints() {
    while (!sw_.empty()) remove_sw(sw_.begin()->first);
    hw_ = {};
    publish_breakpoints();
}

std::string GdbStub::cmd_breakpoint(std::string_view args, bool insert) {
    // "type,addr,kind" possibly followed by ";cond..." which we never advertised.
    args = args.substr(0, args.find(';'));
    std::string_view type_s, rest, addr_s, kind_s;
    if (!split(args, ',', type_s, rest) || !split(rest, ',', addr_s, kind_s)) return kEinval;
    auto addr = parse_hex_u64(addr_s);
    auto kind = parse_hex_u64(kind_s);
    if (type_s.size() != 1 || !addr || !kind) return kEinval;

    if (type_s[0] == '0') {
        if (insert) {
            if (!insert_sw(*addr)) return kEfault;
        } else {
            remove_sw(*addr);
        }
        publish_breakpoints();
        return "OK";
    }

    HwBreakpoint bp;
    bp.addr = *addr;
    switch (type_s[0]) {
        case '1': bp.kind = HwBreakpoint::Kind::Exec; bp.len = 1; break;
        case '2': bp.kind = HwBreakpoint::Kind::Write; break;
        case '4': bp.kind = HwBreakpoint::Kind::Access; break;
        default: return "";  // '3' (read watchpoints): x86 debug registers cannot do them
    }
    if (bp.kind != HwBreakpoint::Kind::Exec) {
        if (*kind != 1 && *kind != 2 && *kind != 4 && *kind != 8) return kEinval;
        if (*addr % *kind) return kEinval;  // DR7 lengths need natural alignment
        bp.len = uint8_t(*kind);
    }
    auto same = std::find(hw_.begin(), hw_.end(), std::optional<HwBreakpoint>(bp));
    if (insert) {
        if (same == hw_.end()) {
            auto slot = std::find(hw_.begin(), hw_.end(), std::nullopt);
            if (slot == hw_.end()) return kEnospc;
            *slot = bp;
        }
    } else if (same != hw_.end()) {
        same->reset();
    }
    publish_breakpoints();
    return "OK";
}

// ---------------------------------------------------------------- registers

std::string GdbStub::cmd_read_reg(std::string_view args) {
    auto n = parse_hex_u64(args);
    if (!n || *n >= kRegCount) return kEinval;
    GdbRegs r;
    if (!target_.read_registers(g_vcpu_, r)) return kEfault;
    return *reg_to_hex(r, unsigned(*n));
}

std::string GdbStub::cmd_write_reg(std::string_view args) {
    std::string_view n_s, v_s;
    if (!split(args, '=', n_s, v_s)) return kEinval;
    auto n = parse_hex_u64(n_s);
    if (!n || *n >= kRegCount) return kEinval;
    GdbRegs r;
    if (!target_.read_registers(g_vcpu_, r)) return kEfault;
    if (!reg_from_hex(r, unsigned(*n), v_s)) return kEinval;
    return target_.write_registers(g_vcpu_, r) ? "OK" : kEfault;
}

std::string GdbStub::cmd_write_regs(std::string_view args) {
    GdbRegs r;
    if (!target_.read_registers(g_vcpu_, r)) return kEfault;
    if (!regs_from_hex(r, args)) return kEinval;
    return target_.write_registers(g_vcpu_, r) ? "OK" : kEfault;
}

// ---------------------------------------------------------------- threads

std::optional<unsigned> GdbStub::parse_thread(std::string_view s, bool allow_all) const {
    if (s == "-1") return allow_all ? std::optional<unsigned>(~0u) : std::nullopt;
    auto v = parse_hex_u64(s);
    if (!v) return std::nullopt;
    if (*v == 0) return ~0u - 1;  // "any thread"
    if (*v > target_.vcpu_count()) return std::nullopt;
    return unsigned(*v - 1);
}

std::string GdbStub::cmd_select_thread(std::string_view args) {
    if (args.empty()) return kEinval;
    char op = args[0];
    auto t = parse_thread(args.substr(1), true);
    if (!t) return kEsrch;
    bool specific = *t < target_.vcpu_count();
    if (op == 'g') {
        if (specific) g_vcpu_ = *t;
    } else if (op == 'c') {
        if (specific) c_vcpu_ = *t;
    } else {
        return kEinval;
    }
    return "OK";
}

// ---------------------------------------------------------------- execution

std::string GdbStub::cmd_resume(std::string_view args, bool step, bool has_signal, bool& resumed) {
    // "[sig][;addr]" for C/S, "[addr]" for c/s. The signal is meaningless for
    // a whole machine and is dropped.
    if (has_signal) {
        auto semi = args.find(';');
        args = semi == std::string_view::npos ? std::string_view() : args.substr(semi + 1);
    }
    if (!args.empty()) {
        auto addr = parse_hex_u64(args);
        if (!addr) return kEinval;
        GdbRegs r;
        if (!target_.read_registers(c_vcpu_, r)) return kEfault;
        r.rip = *addr;
        if (!target_.write_registers(c_vcpu_, r)) return kEfault;
    }
    resume(step ? std::optional<unsigned>(c_vcpu_) : std::nullopt);
    resumed = true;
    return "";
}

std::string GdbStub::cmd_vcont(std::string_view args, bool& resumed) {
    // ";action[:thread]" repeated. All-stop: a step of one vCPU keeps the
    // others paused (scheduler-locking, so the step is one instruction of
    // that vCPU); otherwise everyone continues.
    if (args.empty() || args[0] != ';') return kEinval;
    std::optional<unsigned> step;
    bool any = false;
    args.remove_prefix(1);
    while (!args.empty()) {
        auto end = args.find(';');
        std::string_view action = args.substr(0, end);
        args = end == std::string_view::npos ? std::string_view() : args.substr(end + 1);
        std::string_view verb = action, thread;
        auto colon = action.find(':');
        if (colon != std::string_view::npos) {
            verb = action.substr(0, colon);
            thread = action.substr(colon + 1);
        }
        if (verb.empty()) return kEinval;
        char a = verb[0];
        if ((a == 'c' || a == 's') && verb.size() != 1) return kEinval;
        if ((a == 'C' || a == 'S') && (verb.size() != 3 || !parse_hex_u64(verb.substr(1)))) return kEinval;
        if (a != 'c' && a != 's' && a != 'C' && a != 'S') return kEinval;
        unsigned who = c_vcpu_;
        if (!thread.empty()) {
            auto t = parse_thread(thread, true);
            if (!t) return kEsrch;
            if (*t < target_.vcpu_count()) who = *t;
        }
        if ((a == 's' || a == 'S') && !step) step = who;
        any = true;
    }
    if (!any) return kEinval;
    if (step) c_vcpu_ = *step;
    resume(step);
    resumed = true;
    return "";
}

// ---------------------------------------------------------------- dispatch

std::optional<std::string> GdbStub::handle(std::string_view packet) {
    bool resumed = false;
    std::string reply = dispatch(packet, resumed);
    if (resumed || (close_ && !packet.empty() && packet[0] == 'k')) return std::nullopt;
    return reply;
}

std::string GdbStub::dispatch(std::string_view p, bool& resumed) {
    if (p.empty()) return "";
    std::string_view args = p.substr(1);
    switch (p[0]) {
        case '?': return last_stop_;
        case 'g': {
            GdbRegs r;
            if (!target_.read_registers(g_vcpu_, r)) return kEfault;
            return regs_to_hex(r);
        }
        case 'G': return cmd_write_regs(args);
        case 'p': return cmd_read_reg(args);
        case 'P': return cmd_write_reg(args);
        case 'm': return cmd_read_memory(args);
        case 'M': return cmd_write_memory(args, false);
        case 'X': return cmd_write_memory(args, true);
        case 'c': return cmd_resume(args, false, false, resumed);
        case 's': return cmd_resume(args, true, false, resumed);
        case 'C': return cmd_resume(args, false, true, resumed);
        case 'S': return cmd_resume(args, true, true, resumed);
        case 'Z': return cmd_breakpoint(args, true);
        case 'z': return cmd_breakpoint(args, false);
        case 'H': return cmd_select_thread(args);
        case 'T': {
            auto t = parse_thread(args, false);
            return t && *t < target_.vcpu_count() ? "OK" : kEsrch;
        }
        case 'D':
            detach();
            close_ = true;
            return "OK";
        case 'k':
            detach();
            close_ = true;
            if (cb_.kill) cb_.kill();
            return "";
        case 'q':
        case 'Q': return q_packet(p);
        case 'v':
            if (p == "vCont?") return "vCont;c;C;s;S";
            if (starts_with(p, "vCont;")) return cmd_vcont(p.substr(5), resumed);
            return "";  // vMustReplyEmpty and everything else
        default: return "";
    }
}

std::string GdbStub::q_packet(std::string_view p) {
    if (starts_with(p, "qSupported")) {
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      "PacketSize=%zx;qXfer:features:read+;swbreak+;hwbreak+;QStartNoAckMode+;vContSupported+",
                      kMaxPacket);
        return buf;
    }
    if (p == "QStartNoAckMode") {
        no_ack_ = true;
        return "OK";
    }
    if (starts_with(p, "qXfer:features:read:")) {
        std::string_view rest = p.substr(20), annex, range;
        if (!split(rest, ':', annex, range)) return kEinval;
        if (annex != "target.xml") return "E00";
        uint64_t off, len;
        if (!parse_addr_len(range, off, len)) return kEinval;
        const std::string& xml = target_xml();
        if (off >= xml.size()) return "l";
        len = std::min<uint64_t>(len, kMaxPacket / 2);
        std::string_view chunk = std::string_view(xml).substr(size_t(off), size_t(len));
        std::string r = off + chunk.size() >= xml.size() ? "l" : "m";
        r += chunk;
        return r;
    }
    if (p == "qfThreadInfo") {
        std::string r = "m";
        for (unsigned v = 0; v < target_.vcpu_count(); ++v) {
            if (v) r += ',';
            r += hex_u64(v + 1);
        }
        return r;
    }
    if (p == "qsThreadInfo") return "l";
    if (p == "qC") return "QC" + hex_u64(g_vcpu_ + 1);
    if (p == "qAttached" || starts_with(p, "qAttached:")) return "1";
    if (starts_with(p, "qThreadExtraInfo,")) {
        auto t = parse_thread(p.substr(17), false);
        if (!t || *t >= target_.vcpu_count()) return kEsrch;
        return to_hex("vCPU " + std::to_string(*t));
    }
    if (p == "qSymbol::") return "OK";
    return "";
}

}  // namespace khyve::gdb
