#include "stats/stats.h"

#include <charconv>
#include <map>
#include <span>

namespace khyve {

namespace {

// One counter of a counters struct, described once for every output.
struct Field {
    const char* key;          // JSON member
    const char* metric;       // Prometheus family after "khyve_", "" for JSON only
    const char* label;        // extra label splitting the family, or nullptr
    const char* label_value;
    const char* help;         // the family's help
    const char* text;         // bhyvectl --get-stats wording
};

template <class T>
struct FieldOf {
    Field f;
    Counter T::*member;
};

constexpr const char* kExitHelp = "VM exits handled in user space by bhyve's vCPU thread, by reason";
const FieldOf<VcpuCounters> kVcpuFields[] = {
    {{"user_exits", "", nullptr, nullptr, "", "exits handled in user space"}, &VcpuCounters::exits},
    {{"user_io_exits", "vcpu_user_exits_total", "reason", "io", kExitHelp, "I/O port exits handled in user space"}, &VcpuCounters::io},
    {{"user_mmio_exits", "vcpu_user_exits_total", "reason", "mmio", kExitHelp, "MMIO exits handled in user space"}, &VcpuCounters::mmio},
    {{"user_hlt_exits", "vcpu_user_exits_total", "reason", "hlt", kExitHelp, "hlt exits handled in user space"}, &VcpuCounters::hlt},
    {{"user_shutdown_exits", "vcpu_user_exits_total", "reason", "shutdown", kExitHelp, "triple faults"}, &VcpuCounters::shutdown},
    {{"user_system_event_exits", "vcpu_user_exits_total", "reason", "system_event", kExitHelp, "system events (reset, power off)"}, &VcpuCounters::system_event},
    {{"user_debug_exits", "vcpu_user_exits_total", "reason", "debug", kExitHelp, "debug exits (gdb)"}, &VcpuCounters::debug},
    {{"user_other_exits", "vcpu_user_exits_total", "reason", "other", kExitHelp, "other exits (entry failures, KVM errors)"}, &VcpuCounters::other},
    {{"kicks", "vcpu_kicks_total", nullptr, nullptr, "Times another bhyve thread interrupted the vCPU's KVM_RUN", "vcpu kicked by another thread"}, &VcpuCounters::kicks},
};

const FieldOf<QueueCounters> kQueueFields[] = {
    {{"notifications", "virtqueue_notifications_total", nullptr, nullptr, "Notifications (kicks) of the virtqueue by the guest driver", "notifications from the driver"}, &QueueCounters::notifications},
    {{"interrupts", "virtqueue_interrupts_total", nullptr, nullptr, "Used-buffer interrupts raised for the virtqueue", "interrupts raised"}, &QueueCounters::interrupts},
    {{"used_buffers", "virtqueue_used_buffers_total", nullptr, nullptr, "Buffers the device returned to the driver through the used ring", "buffers returned to the driver"}, &QueueCounters::used},
};

constexpr const char* kBlkReqHelp = "virtio-blk requests received, by type";
constexpr const char* kBlkErrHelp = "virtio-blk requests that completed with an error status, by status";
const FieldOf<BlockCounters> kBlockFields[] = {
    {{"requests_read", "virtio_blk_requests_total", "op", "read", kBlkReqHelp, "read requests"}, &BlockCounters::reads},
    {{"requests_write", "virtio_blk_requests_total", "op", "write", kBlkReqHelp, "write requests"}, &BlockCounters::writes},
    {{"requests_flush", "virtio_blk_requests_total", "op", "flush", kBlkReqHelp, "flush requests"}, &BlockCounters::flushes},
    {{"requests_discard", "virtio_blk_requests_total", "op", "discard", kBlkReqHelp, "discard requests"}, &BlockCounters::discards},
    {{"requests_write_zeroes", "virtio_blk_requests_total", "op", "write_zeroes", kBlkReqHelp, "write-zeroes requests"}, &BlockCounters::write_zeroes},
    {{"requests_get_id", "virtio_blk_requests_total", "op", "get_id", kBlkReqHelp, "get-id requests"}, &BlockCounters::get_ids},
    {{"requests_other", "virtio_blk_requests_total", "op", "other", kBlkReqHelp, "requests of unknown type"}, &BlockCounters::unknown},
    {{"bytes_read", "virtio_blk_read_bytes_total", nullptr, nullptr, "Bytes read from the disk image for the guest", "bytes read"}, &BlockCounters::bytes_read},
    {{"bytes_written", "virtio_blk_written_bytes_total", nullptr, nullptr, "Bytes the guest wrote to the disk image", "bytes written"}, &BlockCounters::bytes_written},
    {{"errors_io", "virtio_blk_errors_total", "status", "ioerr", kBlkErrHelp, "requests failed with an I/O error"}, &BlockCounters::io_errors},
    {{"errors_unsupported", "virtio_blk_errors_total", "status", "unsupp", kBlkErrHelp, "requests refused as unsupported"}, &BlockCounters::unsupported},
};

const FieldOf<NetCounters> kNetFields[] = {
    {{"tx_packets", "virtio_net_tx_packets_total", nullptr, nullptr, "Frames the guest transmitted to the host port", "packets transmitted"}, &NetCounters::tx_packets},
    {{"tx_bytes", "virtio_net_tx_bytes_total", nullptr, nullptr, "Bytes of the frames the guest transmitted", "bytes transmitted"}, &NetCounters::tx_bytes},
    {{"tx_dropped", "virtio_net_tx_dropped_total", nullptr, nullptr, "Transmitted frames dropped (malformed, host congested, link down)", "transmitted packets dropped"}, &NetCounters::tx_dropped},
    {{"rx_packets", "virtio_net_rx_packets_total", nullptr, nullptr, "Frames delivered to the guest from the host port", "packets received"}, &NetCounters::rx_packets},
    {{"rx_bytes", "virtio_net_rx_bytes_total", nullptr, nullptr, "Bytes of the frames delivered to the guest", "bytes received"}, &NetCounters::rx_bytes},
    {{"rx_dropped", "virtio_net_rx_dropped_total", nullptr, nullptr, "Frames from the host port that could not be delivered", "received packets dropped"}, &NetCounters::rx_dropped},
};

const FieldOf<UartCounters> kUartFields[] = {
    {{"tx_bytes", "uart_tx_bytes_total", nullptr, nullptr, "Bytes the guest wrote to the UART's transmitter", "bytes transmitted by the guest"}, &UartCounters::tx_bytes},
    {{"rx_bytes", "uart_rx_bytes_total", nullptr, nullptr, "Bytes of host input the UART accepted for the guest", "bytes received from the host"}, &UartCounters::rx_bytes},
};

template <class T, size_t N>
void append(std::vector<Sample>& out, const T& c, const FieldOf<T> (&fields)[N]) {
    for (const auto& f : fields) {
        Sample s;
        s.key = f.f.key;
        s.metric = f.f.metric;
        s.help = f.f.help;
        if (f.f.label) s.labels.emplace_back(f.f.label, f.f.label_value);
        s.value = (c.*f.member).get();
        out.push_back(std::move(s));
    }
}

template <class T, size_t N>
const char* find_text(std::string_view key, const FieldOf<T> (&fields)[N]) {
    for (const auto& f : fields)
        if (key == f.f.key) return f.f.text;
    return nullptr;
}

bool name_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

// Metric names come from our tables and from the kernel's statistic names;
// anything outside [a-zA-Z0-9_:] becomes '_' so the output always parses.
std::string metric_name(std::string_view suffix) {
    std::string n = "khyve_";
    for (char c : suffix) n += name_char(c, false) ? c : '_';
    return n;
}

std::string label_name(std::string_view s) {
    std::string n;
    for (char c : s) n += name_char(c, n.empty()) && c != ':' ? c : '_';
    return n.empty() ? "_" : n;
}

std::string escape_label(std::string_view v) {
    std::string o;
    for (char c : v) {
        if (c == '\\') o += "\\\\";
        else if (c == '"') o += "\\\"";
        else if (c == '\n') o += "\\n";
        else o += c;
    }
    return o;
}

std::string escape_help(std::string_view v) {
    std::string o;
    for (char c : v) {
        if (c == '\\') o += "\\\\";
        else if (c == '\n') o += "\\n";
        else o += c;
    }
    return o;
}

std::string format_value(const Sample& s) {
    if (s.divisor == 1) return std::to_string(s.value);
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, double(s.value) / s.divisor);
    return std::string(buf, r.ptr);
}

unsigned label_number(const StatsGroup& g, std::string_view name) {
    const std::string* v = g.label(name);
    unsigned n = 0;
    if (v) std::from_chars(v->data(), v->data() + v->size(), n);
    return n;
}

void put(nlohmann::json& obj, const Sample& s) {
    if (s.nest.empty()) obj[s.key] = s.value;
    else obj[s.nest][s.key] = s.value;
}

}  // namespace

const std::string* StatsGroup::label(std::string_view name) const {
    for (const auto& [k, v] : labels)
        if (k == name) return &v;
    return nullptr;
}

void append_samples(std::vector<Sample>& out, const VcpuCounters& c) { append(out, c, kVcpuFields); }
void append_samples(std::vector<Sample>& out, const QueueCounters& c) { append(out, c, kQueueFields); }
void append_samples(std::vector<Sample>& out, const BlockCounters& c) { append(out, c, kBlockFields); }
void append_samples(std::vector<Sample>& out, const NetCounters& c) { append(out, c, kNetFields); }
void append_samples(std::vector<Sample>& out, const UartCounters& c) { append(out, c, kUartFields); }

const char* describe_counter(std::string_view type, std::string_view key) {
    if (type == "vcpu") return find_text(key, kVcpuFields);
    if (type == "virtqueue") return find_text(key, kQueueFields);
    if (type == "virtio-blk") return find_text(key, kBlockFields);
    if (type == "virtio-net") return find_text(key, kNetFields);
    if (type == "uart") return find_text(key, kUartFields);
    return nullptr;
}

void StatsRegistry::add(Source s) {
    std::lock_guard lk(mu_);
    sources_.push_back(std::move(s));
}

std::vector<StatsGroup> StatsRegistry::collect() const {
    std::lock_guard lk(mu_);
    std::vector<StatsGroup> out;
    for (const auto& s : sources_) s(out);
    return out;
}

std::string format_prometheus(std::string_view vm, const std::vector<StatsGroup>& groups) {
    // The format wants every sample of a family together under one HELP and
    // TYPE, while our groups are per device: gather by family first.
    struct Family {
        std::string help;
        MetricKind kind;
        std::string lines;
    };
    std::vector<std::pair<std::string, Family>> families;
    std::map<std::string, size_t> index;
    for (const auto& g : groups) {
        for (const auto& s : g.samples) {
            if (s.metric.empty()) continue;
            std::string name = metric_name(s.metric);
            auto it = index.find(name);
            if (it == index.end()) {
                it = index.emplace(name, families.size()).first;
                families.push_back({name, Family{s.help, s.kind, {}}});
            }
            std::string line = name + "{vm=\"" + escape_label(vm) + "\"";
            for (const auto* labels : {&g.labels, &s.labels})
                for (const auto& [k, v] : *labels) {
                    // Appended piece by piece: GCC 12 -O3 warns (-Wrestrict, falsely) on "," + std::string.
                    line += ',';
                    line += label_name(k);
                    line += "=\"";
                    line += escape_label(v);
                    line += '"';
                }
            line += "} " + format_value(s) + "\n";
            families[it->second].second.lines += line;
        }
    }
    std::string out;
    for (const auto& [name, f] : families) {
        out += "# HELP " + name + " " + escape_help(f.help) + "\n";
        out += "# TYPE " + name + (f.kind == MetricKind::Counter ? " counter\n" : " gauge\n");
        out += f.lines;
    }
    return out;
}

nlohmann::json vcpus_json(const std::vector<StatsGroup>& groups) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& g : groups) {
        if (g.type != "vcpu") continue;
        nlohmann::json v = {{"vcpu", label_number(g, "vcpu")}, {"kvm", nlohmann::json::object()}};
        for (const auto& s : g.samples) put(v, s);
        out.push_back(std::move(v));
    }
    return out;
}

nlohmann::json devices_json(const std::vector<StatsGroup>& groups) {
    nlohmann::json out = nlohmann::json::array();
    std::map<std::string, size_t> index;
    auto entry = [&](const std::string& device, const std::string& type) -> nlohmann::json& {
        auto it = index.find(device);
        if (it == index.end()) {
            it = index.emplace(device, out.size()).first;
            out.push_back({{"device", device}, {"type", type}, {"counters", nlohmann::json::object()}});
        }
        return out[it->second];
    };
    for (const auto& g : groups) {
        if (g.type == "vcpu") continue;
        const std::string* device = g.label("device");
        if (!device) continue;
        if (g.type == "virtqueue") {
            auto& e = entry(*device, "virtio");
            nlohmann::json q = {{"queue", label_number(g, "queue")}};
            for (const auto& s : g.samples) put(q, s);
            e["queues"].push_back(std::move(q));
        } else {
            auto& e = entry(*device, g.type);
            for (const auto& s : g.samples) put(e["counters"], s);
        }
    }
    return out;
}

}  // namespace khyve
