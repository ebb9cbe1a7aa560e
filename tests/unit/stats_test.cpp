// The statistics layer: counters, the descriptions of each counters struct,
// the registry and the JSON and Prometheus formatters.
#include "stats/stats.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace khyve {
namespace {

TEST(StatsCounter, AddsFromManyThreadsWithoutLosingCounts) {
    Counter c;
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < 100000; ++i) ++c;
        });
    for (auto& t : ts) t.join();
    c.add(5);
    EXPECT_EQ(c.get(), 400005u);
    Counter copy = c;  // structs holding counters stay copyable
    EXPECT_EQ(copy.get(), 400005u);
    c.reset();
    EXPECT_EQ(c.get(), 0u);
    EXPECT_EQ(copy.get(), 400005u);
}

const Sample* find(const std::vector<Sample>& s, const std::string& key) {
    for (const auto& x : s)
        if (x.key == key) return &x;
    return nullptr;
}

TEST(StatsSamples, BlockCountersDescribedOncePerCounter) {
    BlockCounters b;
    b.reads.add(3);
    b.bytes_written.add(4096);
    b.unsupported.add(1);
    std::vector<Sample> s;
    append_samples(s, b);
    EXPECT_EQ(s.size(), 11u);
    std::set<std::string> keys;
    for (const auto& x : s) keys.insert(x.key);
    EXPECT_EQ(keys.size(), s.size()) << "JSON keys must be unique";
    const Sample* r = find(s, "requests_read");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->value, 3u);
    EXPECT_EQ(r->metric, "virtio_blk_requests_total");
    ASSERT_EQ(r->labels.size(), 1u);
    EXPECT_EQ(r->labels[0], StatsLabel("op", "read"));
    EXPECT_EQ(find(s, "bytes_written")->value, 4096u);
    EXPECT_EQ(find(s, "errors_unsupported")->labels[0], StatsLabel("status", "unsupp"));
    EXPECT_STREQ(describe_counter("virtio-blk", "bytes_read"), "bytes read");
    EXPECT_STREQ(describe_counter("uart", "tx_bytes"), "bytes transmitted by the guest");
    EXPECT_STREQ(describe_counter("virtio-net", "tx_bytes"), "bytes transmitted");
    EXPECT_EQ(describe_counter("virtio-blk", "nonsense"), nullptr);
    EXPECT_EQ(describe_counter("nonsense", "bytes_read"), nullptr);
}

TEST(StatsSamples, VcpuTotalIsJsonOnly) {
    VcpuCounters v;
    v.exits.add(10);
    v.io.add(7);
    v.mmio.add(3);
    std::vector<Sample> s;
    append_samples(s, v);
    EXPECT_TRUE(find(s, "user_exits")->metric.empty());  // the sum of the reasons: not a series of its own
    EXPECT_EQ(find(s, "user_io_exits")->labels[0], StatsLabel("reason", "io"));
    EXPECT_EQ(find(s, "user_mmio_exits")->value, 3u);
    for (const char* k : {"user_hlt_exits", "user_shutdown_exits", "user_system_event_exits",
                          "user_debug_exits", "user_other_exits", "kicks"})
        EXPECT_TRUE(find(s, k)) << k;
}

// A machine-like set of groups: two vCPUs, a disk with one queue, a UART.
std::vector<StatsGroup> sample_groups() {
    StatsRegistry reg;
    reg.add([](std::vector<StatsGroup>& out) {
        for (int i = 0; i < 2; ++i) {
            VcpuCounters c;
            c.exits.add(5 + i);
            c.io.add(5 + i);
            StatsGroup g{"vcpu", {{"vcpu", std::to_string(i)}}, {}};
            append_samples(g.samples, c);
            g.samples.push_back({"runtime_ns", "", "vcpu_runtime_seconds_total", "CPU time", MetricKind::Counter,
                                 {}, 2914467168, 1e9});
            g.samples.push_back({"exits", "kvm", "kvm_vcpu_exits_total", "KVM exits", MetricKind::Counter, {}, 100});
            g.samples.push_back({"halt_poll_ns-max", "kvm", "kvm_vcpu_halt_poll_ns-max", "odd name",
                                 MetricKind::Gauge, {}, 7});
            out.push_back(std::move(g));
        }
    });
    reg.add([](std::vector<StatsGroup>& out) {
        BlockCounters b;
        b.reads.add(2);
        b.bytes_read.add(1024);
        StatsGroup g{"virtio-blk", {{"device", "virtio-blk@2:0"}}, {}};
        append_samples(g.samples, b);
        out.push_back(std::move(g));
        QueueCounters q;
        q.notifications.add(9);
        q.used.add(2);
        StatsGroup qg{"virtqueue", {{"device", "virtio-blk@2:0"}, {"queue", "0"}}, {}};
        append_samples(qg.samples, q);
        out.push_back(std::move(qg));
    });
    reg.add([](std::vector<StatsGroup>& out) {
        UartCounters u;
        u.tx_bytes.add(42);
        StatsGroup g{"uart", {{"device", "com\"1\\\n"}}, {}};  // a hostile label value
        append_samples(g.samples, u);
        out.push_back(std::move(g));
    });
    return reg.collect();
}

// Checks text against the exposition format: HELP and TYPE once per family,
// before its samples, families not interleaved, every sample line
// `name{label="value",...} number` with a declared name.
void expect_valid_exposition(const std::string& text, std::map<std::string, std::string>& values) {
    static const std::regex sample(
        R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? ([-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)$)");
    static const std::regex help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
    static const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$)");
    ASSERT_FALSE(text.empty());
    ASSERT_EQ(text.back(), '\n');
    std::istringstream in(text);
    std::string line, current;
    std::set<std::string> done, helped;
    std::smatch m;
    while (std::getline(in, line)) {
        if (std::regex_match(line, m, help)) {
            EXPECT_TRUE(helped.insert(m[1]).second) << "second HELP for " << m[1];
        } else if (std::regex_match(line, m, type)) {
            EXPECT_TRUE(helped.count(m[1])) << "TYPE before HELP: " << line;
            if (!current.empty()) done.insert(current);
            current = m[1];
            EXPECT_FALSE(done.count(current)) << "family " << current << " declared twice";
        } else if (std::regex_match(line, m, sample)) {
            EXPECT_EQ(m[1], current) << "sample outside its family: " << line;
            EXPECT_EQ(std::string(m[2]).rfind("{vm=\"", 0), 0u) << line;
            values[std::string(m[1]) + std::string(m[2])] = m[3];
        } else {
            ADD_FAILURE() << "line does not parse: '" << line << "'";
        }
    }
}

TEST(StatsPrometheus, OutputFollowsTheExpositionFormat) {
    auto groups = sample_groups();
    std::string text = format_prometheus("vm1", groups);
    std::map<std::string, std::string> v;
    expect_valid_exposition(text, v);
    EXPECT_EQ(v["khyve_vcpu_user_exits_total{vm=\"vm1\",vcpu=\"1\",reason=\"io\"}"], "6");
    EXPECT_EQ(v["khyve_vcpu_runtime_seconds_total{vm=\"vm1\",vcpu=\"0\"}"], "2.914467168");
    EXPECT_EQ(v["khyve_kvm_vcpu_exits_total{vm=\"vm1\",vcpu=\"0\"}"], "100");
    // A name the format does not allow is mended, not passed through.
    EXPECT_EQ(v["khyve_kvm_vcpu_halt_poll_ns_max{vm=\"vm1\",vcpu=\"1\"}"], "7");
    EXPECT_EQ(v["khyve_virtio_blk_requests_total{vm=\"vm1\",device=\"virtio-blk@2:0\",op=\"read\"}"], "2");
    EXPECT_EQ(v["khyve_virtio_blk_read_bytes_total{vm=\"vm1\",device=\"virtio-blk@2:0\"}"], "1024");
    EXPECT_EQ(v["khyve_virtqueue_notifications_total{vm=\"vm1\",device=\"virtio-blk@2:0\",queue=\"0\"}"], "9");
    EXPECT_EQ(v["khyve_uart_tx_bytes_total{vm=\"vm1\",device=\"com\\\"1\\\\\\n\"}"], "42");
    EXPECT_EQ(text.find("user_exits{"), std::string::npos);  // JSON-only sample
    EXPECT_NE(text.find("# TYPE khyve_kvm_vcpu_halt_poll_ns_max gauge\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE khyve_vcpu_user_exits_total counter\n"), std::string::npos);
    // Both vCPUs' series sit together under one HELP/TYPE.
    auto first = text.find("khyve_vcpu_kicks_total{vm=\"vm1\",vcpu=\"0\"}");
    auto second = text.find("khyve_vcpu_kicks_total{vm=\"vm1\",vcpu=\"1\"}");
    ASSERT_NE(second, std::string::npos);
    EXPECT_EQ(text.find('#', first), text.find("# HELP", second));
}

TEST(StatsPrometheus, VmNameIsEscaped) {
    auto text = format_prometheus("a\"b", sample_groups());
    EXPECT_NE(text.find("{vm=\"a\\\"b\""), std::string::npos);
    std::map<std::string, std::string> v;
    expect_valid_exposition(text, v);
}

TEST(StatsJson, VcpusAndDevicesLayout) {
    auto groups = sample_groups();
    auto vcpus = vcpus_json(groups);
    ASSERT_EQ(vcpus.size(), 2u);
    EXPECT_EQ(vcpus[1]["vcpu"], 1);
    EXPECT_EQ(vcpus[1]["user_exits"], 6);
    EXPECT_EQ(vcpus[1]["user_io_exits"], 6);
    EXPECT_EQ(vcpus[0]["runtime_ns"], 2914467168ull);  // raw in JSON; seconds only for Prometheus
    EXPECT_EQ(vcpus[0]["kvm"]["exits"], 100);
    auto devices = devices_json(groups);
    ASSERT_EQ(devices.size(), 2u);
    EXPECT_EQ(devices[0]["device"], "virtio-blk@2:0");
    EXPECT_EQ(devices[0]["type"], "virtio-blk");
    EXPECT_EQ(devices[0]["counters"]["requests_read"], 2);
    EXPECT_EQ(devices[0]["counters"]["bytes_read"], 1024);
    ASSERT_EQ(devices[0]["queues"].size(), 1u);
    EXPECT_EQ(devices[0]["queues"][0]["queue"], 0);
    EXPECT_EQ(devices[0]["queues"][0]["notifications"], 9);
    EXPECT_EQ(devices[0]["queues"][0]["used_buffers"], 2);
    EXPECT_EQ(devices[1]["type"], "uart");
    EXPECT_EQ(devices[1]["counters"]["tx_bytes"], 42);
    EXPECT_FALSE(devices[1].contains("queues"));
}

TEST(StatsRegistry, CollectReadsCountersNow) {
    StatsRegistry reg;
    UartCounters u;
    reg.add([&](std::vector<StatsGroup>& out) {
        StatsGroup g{"uart", {{"device", "com1"}}, {}};
        append_samples(g.samples, u);
        out.push_back(std::move(g));
    });
    EXPECT_EQ(devices_json(reg.collect())[0]["counters"]["rx_bytes"], 0);
    u.rx_bytes.add(3);
    EXPECT_EQ(devices_json(reg.collect())[0]["counters"]["rx_bytes"], 3);
    EXPECT_TRUE(vcpus_json(reg.collect()).empty());
}

}  // namespace
}  // namespace khyve
