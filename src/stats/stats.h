// The VMM's statistics as data: every source (a vCPU, a device, a virtqueue)
// turns its counters into a StatsGroup of Samples on request, and the
// formatters (JSON for the control socket, Prometheus text, bhyvectl's
// wording) work on those groups only. Reading is rare and may allocate; the
// counters themselves (stats/counters.h) stay lock-free.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "stats/counters.h"

namespace khyve {

using StatsLabel = std::pair<std::string, std::string>;

enum class MetricKind { Counter, Gauge };

struct Sample {
    std::string key;      // JSON member name within its group ("bytes_read")
    std::string nest;     // JSON sub-object holding it ("kvm"), or empty
    std::string metric;   // Prometheus family after "khyve_"; empty: JSON only
    std::string help;     // the family's # HELP text
    MetricKind kind = MetricKind::Counter;
    std::vector<StatsLabel> labels;  // beyond the group's (e.g. op="read")
    uint64_t value = 0;
    double divisor = 1;   // Prometheus shows value / divisor (1e9: ns as seconds)
};

struct StatsGroup {
    std::string type;     // "vcpu", "virtio-blk", "virtqueue", "uart", ...
    std::vector<StatsLabel> labels;  // "vcpu", or "device" (and "queue")
    std::vector<Sample> samples;

    const std::string* label(std::string_view name) const;
};

// Appends one sample per counter, described by the static tables in stats.cpp.
void append_samples(std::vector<Sample>& out, const VcpuCounters& c);
void append_samples(std::vector<Sample>& out, const QueueCounters& c);
void append_samples(std::vector<Sample>& out, const BlockCounters& c);
void append_samples(std::vector<Sample>& out, const NetCounters& c);
void append_samples(std::vector<Sample>& out, const UartCounters& c);

// bhyvectl's wording for a device counter (type as in StatsGroup::type, key as
// in Sample::key); nullptr if there is none.
const char* describe_counter(std::string_view type, std::string_view key);

// Where the machine registers what it can report. Sources are added while the
// machine is built and called, in order, on every collect().
class StatsRegistry {
public:
    using Source = std::function<void(std::vector<StatsGroup>&)>;
    void add(Source s);
    std::vector<StatsGroup> collect() const;

private:
    mutable std::mutex mu_;
    std::vector<Source> sources_;
};

// Prometheus text exposition format (version 0.0.4): one # HELP and # TYPE per
// family, every sample as khyve_NAME{vm="...",labels...} VALUE.
std::string format_prometheus(std::string_view vm, const std::vector<StatsGroup>& groups);

// The control socket's "vcpus" member: one object per "vcpu" group, with
// "vcpu" and its samples (nested ones under their sub-object).
nlohmann::json vcpus_json(const std::vector<StatsGroup>& groups);
// The "devices" member: one object per device with "device", "type",
// "counters" and, for virtio devices, "queues" (from the "virtqueue" groups).
nlohmann::json devices_json(const std::vector<StatsGroup>& groups);

}  // namespace khyve
