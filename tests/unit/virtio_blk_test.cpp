#include "emulation_test_util.h"
#include "virtio/virtio_blk.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "block/file_backend.h"
#include "common/error.h"
#include "memory/guest_memory.h"
#include "virtio/queue.h"
#include "virtio_fake_driver.h"

namespace khyve {
namespace {

using namespace virtio_blk;

// virtio-blk has one queue: the shared fake driver's rings, queue 0.
struct FakeRing : test::FakeRings {
    FakeRing() : FakeRings(1) {}
    uint16_t push(const std::vector<Buf>& bufs) { return FakeRings::push(0, bufs); }
    void repost(uint16_t head) { FakeRings::repost(0, head); }
    std::optional<Used> used() { return FakeRings::used(0); }
};

using test::FakeInterrupt;
using test::FakeWorker;


struct TempImage {
    std::string path;
    explicit TempImage(size_t size, uint8_t fill = 0) {
        char tmpl[] = "/tmp/khyve_vblk_XXXXXX";
        int fd = ::mkstemp(tmpl);
        if (fd < 0) throw sys_error("mkstemp");
        path = tmpl;
        std::vector<uint8_t> buf(size, fill);
        if (::pwrite(fd, buf.data(), size, 0) != ssize_t(size)) throw sys_error("pwrite");
        ::close(fd);
    }
    ~TempImage() { ::unlink(path.c_str()); }
    std::vector<uint8_t> contents() const {
        int fd = ::open(path.c_str(), O_RDONLY);
        std::vector<uint8_t> b(size_t(::lseek(fd, 0, SEEK_END)));
        if (::pread(fd, b.data(), b.size(), 0) != ssize_t(b.size())) b.clear();
        ::close(fd);
        return b;
    }
};

constexpr size_t kImage = 64 * 1024;  // 128 sectors

// How the harness's backend completes: on its own io_uring completion thread
// (false) or reaped by the device's worker (true, as the virtio-blk entry's factory does).
// Set per test by the VirtioBlkTest fixture.
bool g_caller_reaps = false;

struct BlkHarness {
    TempImage img;
    FakeRing ring;
    FakeInterrupt irq;
    FakeWorker worker;
    std::unique_ptr<VirtioBlk> dev;

    explicit BlkHarness(bool ro = false, StepRunner hook = {}, uint64_t drop_features = 0)
        : img(kImage, 0x33) {
        BlockOpenOptions o;
        o.path = img.path;
        o.read_only = ro;
        o.caller_reaps = g_caller_reaps;
        const bool thread_engine = static_cast<bool>(hook);
        if (hook) {
            o.engine = BlockOpenOptions::Engine::kThread;
            o.syscall_hook = std::move(hook);
        }
        VirtioBlk::Options opts;
        opts.serial = "khyve-serial-0123456789";  // longer than 20: cut
        opts.queue_size = FakeRing::kSize;
        dev = std::make_unique<VirtioBlk>(FileBackend::open(o), opts);
        VirtioActivation a;
        a.mem = &ring.mem;
        a.features = (dev->features() | virtio::kFVersion1) & ~drop_features;
        a.queues = ring.queues;
        a.interrupt = &irq;
        a.worker = &worker;
        EXPECT_TRUE(dev->activate(a));
        EXPECT_EQ(worker.fds.count(dev->completion_fd()), 1u);
        // Reaped by the worker exactly when asked for (and io_uring works).
        EXPECT_EQ(dev->backend().completion_fd() >= 0, g_caller_reaps && !thread_engine);
        if (dev->backend().completion_fd() >= 0) {
            EXPECT_EQ(worker.fds.count(dev->backend().completion_fd()), 1u);
        }
    }

    // Runs the worker's fd callbacks until a used entry appears (or 5 s pass).
    std::optional<FakeRing::Used> complete() {
        for (int i = 0; i < 500; i++) {
            if (auto u = ring.used()) return u;
            std::vector<pollfd> p;
            for (const auto& [fd, cb] : worker.fds) p.push_back({fd, POLLIN, 0});
            if (::poll(p.data(), p.size(), 10) <= 0) continue;
            for (const auto& q : p)
                if (q.revents & POLLIN) worker.fds[q.fd]();
        }
        return ring.used();
    }

    struct Req {
        uint64_t hdr, data, status;
    };
    // header (readable) + data (readable for OUT, writable for IN) + status.
    Req request(uint32_t type, uint64_t sector, uint32_t data_len, bool data_writable) {
        Req r{ring.alloc(16), data_len ? ring.alloc(data_len) : 0, ring.alloc(1)};
        ReqHeader h{type, 0, sector};
        std::memcpy(ring.host(r.hdr), &h, 16);
        *ring.host(r.status) = 0xff;
        std::vector<FakeRing::Buf> bufs{{r.hdr, 16, false}};
        if (data_len) bufs.push_back({r.data, data_len, data_writable});
        bufs.push_back({r.status, 1, true});
        ring.push(bufs);
        return r;
    }
    uint8_t run(uint32_t type, uint64_t sector, uint32_t len, bool writable, Req* out = nullptr,
                const uint8_t* fill = nullptr) {
        Req r = request(type, sector, len, writable);
        if (fill) std::memcpy(ring.host(r.data), fill, len);
        if (out) *out = r;
        dev->queue_notify(0);
        auto u = complete();
        EXPECT_TRUE(u);
        return *ring.host(r.status);
    }
};

class VirtioBlkTest : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override { g_caller_reaps = GetParam(); }
    void TearDown() override { g_caller_reaps = false; }
};
INSTANTIATE_TEST_SUITE_P(Completions, VirtioBlkTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                             return i.param ? "WorkerReaps" : "CompletionThread";
                         });

uint32_t cfg32(VirtioBlk& d, uint32_t off) {
    uint32_t v = 0;
    d.read_config(off, {reinterpret_cast<uint8_t*>(&v), 4});
    return v;
}

TEST_P(VirtioBlkTest, ConfigAndFeatures) {
    BlkHarness h;
    uint64_t cap = 0;
    h.dev->read_config(kCfgCapacity, {reinterpret_cast<uint8_t*>(&cap), 8});
    EXPECT_EQ(cap, kImage / 512);
    EXPECT_EQ(cfg32(*h.dev, kCfgBlkSize), 512u);
    EXPECT_EQ(cfg32(*h.dev, kCfgSegMax), FakeRing::kSize - 2u);
    EXPECT_EQ(cfg32(*h.dev, kCfgMaxDiscardSeg), 1u);
    uint64_t f = h.dev->features();
    EXPECT_TRUE(f & kFFlush);
    EXPECT_TRUE(f & kFConfigWce);
    EXPECT_TRUE(f & kFDiscard);
    EXPECT_TRUE(f & kFWriteZeroes);
    EXPECT_FALSE(f & kFRo);
    EXPECT_EQ(h.dev->device_type(), virtio::kTypeBlock);

    BlkHarness ro(true);
    EXPECT_TRUE(ro.dev->features() & kFRo);
    EXPECT_FALSE(ro.dev->features() & kFDiscard);
}

TEST_P(VirtioBlkTest, WriteReadFlushGetId) {
    BlkHarness h;
    std::vector<uint8_t> pattern(1024);
    for (size_t i = 0; i < pattern.size(); i++) pattern[i] = uint8_t(i ^ 0x5c);
    EXPECT_EQ(h.run(kTOut, 4, 1024, false, nullptr, pattern.data()), kSOk);
    EXPECT_EQ(h.run(kTFlush, 0, 0, false), kSOk);
    auto disk = h.img.contents();
    EXPECT_EQ(0, std::memcmp(disk.data() + 4 * 512, pattern.data(), 1024));
    EXPECT_EQ(disk[4 * 512 - 1], 0x33);
    EXPECT_EQ(disk[6 * 512], 0x33);

    BlkHarness::Req r;
    EXPECT_EQ(h.run(kTIn, 4, 1024, true, &r), kSOk);
    EXPECT_EQ(0, std::memcmp(h.ring.host(r.data), pattern.data(), 1024));

    EXPECT_EQ(h.run(kTGetId, 0, 20, true, &r), kSOk);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(h.ring.host(r.data)), 20), "khyve-serial-0123456");
    EXPECT_GT(h.irq.used, 0);
    EXPECT_EQ(h.irq.needs_reset, 0);
}

TEST_P(VirtioBlkTest, UsedLengthCountsWrittenBytes) {
    BlkHarness h;
    h.request(kTIn, 0, 1024, true);
    h.dev->queue_notify(0);
    auto u = h.complete();
    ASSERT_TRUE(u);
    EXPECT_EQ(u->len, 1025u);  // data + status
    h.request(kTOut, 0, 512, false);
    h.dev->queue_notify(0);
    u = h.complete();
    ASSERT_TRUE(u);
    EXPECT_EQ(u->len, 1u);
}

TEST_P(VirtioBlkTest, WriteOnlyHeaderNeedsReset) {
    BlkHarness h;
    uint64_t hdr = h.ring.alloc(16), st = h.ring.alloc(1);
    ReqHeader rh{kTOut, 0, 0};
    std::memcpy(h.ring.host(hdr), &rh, 16);
    h.ring.push({{hdr, 16, true}, {st, 1, true}});
    h.dev->queue_notify(0);
    auto u = h.ring.used();
    ASSERT_TRUE(u);
    EXPECT_EQ(u->len, 0u);
    EXPECT_EQ(h.irq.needs_reset, 1);
    // The device stays stopped until reset: a good request is not served.
    h.request(kTIn, 0, 512, true);
    h.dev->queue_notify(0);
    EXPECT_FALSE(h.ring.used());
    EXPECT_EQ(h.img.contents(), std::vector<uint8_t>(kImage, 0x33));
}

TEST_P(VirtioBlkTest, MissingStatusByteNeedsReset) {
    BlkHarness h;
    uint64_t hdr = h.ring.alloc(16), data = h.ring.alloc(512);
    ReqHeader rh{kTOut, 0, 0};
    std::memcpy(h.ring.host(hdr), &rh, 16);
    std::memset(h.ring.host(data), 0x77, 512);
    h.ring.push({{hdr, 16, false}, {data, 512, false}});
    h.dev->queue_notify(0);
    EXPECT_EQ(h.irq.needs_reset, 1);
    EXPECT_EQ(h.img.contents(), std::vector<uint8_t>(kImage, 0x33));
}

TEST_P(VirtioBlkTest, ShortHeaderNeedsReset) {
    BlkHarness h;
    uint64_t hdr = h.ring.alloc(16), st = h.ring.alloc(1);
    h.ring.push({{hdr, 8, false}, {st, 1, true}});
    h.dev->queue_notify(0);
    EXPECT_EQ(h.irq.needs_reset, 1);
}

TEST_P(VirtioBlkTest, DataLengthNotMultipleOf512IsIoErr) {
    BlkHarness h;
    std::vector<uint8_t> junk(1000, 0x99);
    EXPECT_EQ(h.run(kTOut, 0, 1000, false, nullptr, junk.data()), kSIoErr);
    EXPECT_EQ(h.run(kTIn, 0, 513, true), kSIoErr);
    EXPECT_EQ(h.img.contents(), std::vector<uint8_t>(kImage, 0x33));
}

TEST_P(VirtioBlkTest, SectorArithmeticChecked) {
    BlkHarness h;
    const uint64_t cap = kImage / 512;
    std::vector<uint8_t> junk(1024, 0x99);
    // sector * 512 would wrap to a small offset.
    EXPECT_EQ(h.run(kTOut, (1ull << 55), 512, false, nullptr, junk.data()), kSIoErr);
    EXPECT_EQ(h.run(kTOut, ~0ull, 512, false, nullptr, junk.data()), kSIoErr);
    EXPECT_EQ(h.run(kTIn, ~0ull / 512 + 1, 512, true), kSIoErr);
    // Past capacity, and straddling the end.
    EXPECT_EQ(h.run(kTIn, cap, 512, true), kSIoErr);
    EXPECT_EQ(h.run(kTOut, cap - 1, 1024, false, nullptr, junk.data()), kSIoErr);
    EXPECT_EQ(h.img.contents(), std::vector<uint8_t>(kImage, 0x33));
    // The very last sector is fine.
    EXPECT_EQ(h.run(kTOut, cap - 1, 512, false, nullptr, junk.data()), kSOk);
    EXPECT_EQ(h.img.contents()[kImage - 1], 0x99);
}

TEST_P(VirtioBlkTest, ReadOnlyRefusesWritesImageUnchanged) {
    BlkHarness h(true);
    std::vector<uint8_t> junk(512, 0x99);
    EXPECT_EQ(h.run(kTOut, 0, 512, false, nullptr, junk.data()), kSIoErr);
    // Discard/write-zeroes were not offered: unsupported.
    DiscardSegment seg{0, 1, 0};
    EXPECT_EQ(h.run(kTWriteZeroes, 0, 16, false, nullptr, reinterpret_cast<uint8_t*>(&seg)), kSUnsupp);
    EXPECT_EQ(h.run(kTDiscard, 0, 16, false, nullptr, reinterpret_cast<uint8_t*>(&seg)), kSUnsupp);
    EXPECT_EQ(h.run(kTFlush, 0, 0, false), kSOk);
    EXPECT_EQ(h.img.contents(), std::vector<uint8_t>(kImage, 0x33));
}

TEST_P(VirtioBlkTest, UnknownTypeUnsupported) {
    BlkHarness h;
    EXPECT_EQ(h.run(99, 0, 0, false), kSUnsupp);
    EXPECT_EQ(h.irq.needs_reset, 0);
}

uint8_t run_segments(BlkHarness& h, uint32_t type, const std::vector<DiscardSegment>& segs) {
    uint32_t len = uint32_t(segs.size() * 16);
    std::vector<uint8_t> raw(len);
    std::memcpy(raw.data(), segs.data(), len);
    return h.run(type, 0, len, false, nullptr, raw.data());
}

TEST_P(VirtioBlkTest, DiscardAndWriteZeroesValidated) {
    BlkHarness h;
    const uint32_t cap = kImage / 512;
    EXPECT_EQ(run_segments(h, kTWriteZeroes, {{8, 4, 0}}), kSOk);
    EXPECT_EQ(run_segments(h, kTWriteZeroes, {{16, 2, kFlagUnmap}}), kSOk);
    EXPECT_EQ(run_segments(h, kTDiscard, {{32, 8, 0}}), kSOk);
    auto disk = h.img.contents();
    for (size_t i = 8 * 512; i < 12 * 512; i++) ASSERT_EQ(disk[i], 0) << i;
    for (size_t i = 16 * 512; i < 18 * 512; i++) ASSERT_EQ(disk[i], 0) << i;
    EXPECT_EQ(disk[12 * 512], 0x33);
    EXPECT_EQ(disk[18 * 512], 0x33);

    EXPECT_EQ(run_segments(h, kTDiscard, {{0, 1, kFlagUnmap}}), kSUnsupp);   // unmap on discard
    EXPECT_EQ(run_segments(h, kTWriteZeroes, {{0, 1, 0x80}}), kSUnsupp);     // unknown flag
    EXPECT_EQ(run_segments(h, kTDiscard, {{0, 1, 0}, {4, 1, 0}}), kSUnsupp); // > max_discard_seg
    EXPECT_EQ(run_segments(h, kTWriteZeroes, {{cap - 1, 2, 0}}), kSIoErr);   // past the end
    EXPECT_EQ(run_segments(h, kTWriteZeroes, {{~0ull, 1, 0}}), kSIoErr);     // sector overflow
    EXPECT_EQ(run_segments(h, kTWriteZeroes, {{0, 1u << 23, 0}}), kSIoErr);  // above max sectors
    EXPECT_EQ(h.run(kTWriteZeroes, 0, 0, false), kSIoErr);                   // no segment
    std::vector<uint8_t> odd(20, 0);
    EXPECT_EQ(h.run(kTDiscard, 0, 20, false, nullptr, odd.data()), kSIoErr); // partial segment
    auto after = h.img.contents();
    EXPECT_EQ(after[0], 0x33);
    EXPECT_EQ(after[kImage - 1], 0x33);
}

TEST_P(VirtioBlkTest, DiscardNotNegotiatedIsUnsupported) {
    BlkHarness h(false, {}, kFDiscard | kFWriteZeroes);
    EXPECT_EQ(run_segments(h, kTWriteZeroes, {{0, 1, 0}}), kSUnsupp);
    EXPECT_EQ(h.img.contents(), std::vector<uint8_t>(kImage, 0x33));
}

TEST_P(VirtioBlkTest, FlushAfterFailedFdatasyncKeepsFailing) {
    std::atomic<int> syncs{0};
    BlkHarness h(false, [&](int fd, const BlockStep& s) -> int64_t {
        if (s.kind == BlockStep::kFdatasync && ++syncs == 1) return -EIO;
        return run_step_sync(fd, s);
    });
    EXPECT_EQ(h.run(kTFlush, 0, 0, false), kSIoErr);
    EXPECT_EQ(h.run(kTFlush, 0, 0, false), kSIoErr);
    std::vector<uint8_t> d(512, 1);
    EXPECT_EQ(h.run(kTOut, 0, 512, false, nullptr, d.data()), kSOk);
    EXPECT_EQ(h.run(kTFlush, 0, 0, false), kSIoErr);
    EXPECT_EQ(h.irq.needs_reset, 0);
}

TEST_P(VirtioBlkTest, HostEnospcIsIoErr) {
    BlkHarness h(false, [](int fd, const BlockStep& s) -> int64_t {
        if (s.kind == BlockStep::kWritev) return -ENOSPC;
        return run_step_sync(fd, s);
    });
    std::vector<uint8_t> d(512, 1);
    EXPECT_EQ(h.run(kTOut, 0, 512, false, nullptr, d.data()), kSIoErr);
    EXPECT_EQ(h.run(kTIn, 0, 512, true), kSOk);  // the device carries on
}

TEST_P(VirtioBlkTest, WritebackZeroMakesWritesStable) {
    std::vector<int> flags;
    std::mutex mu;
    BlkHarness h(false, [&](int fd, const BlockStep& s) -> int64_t {
        if (s.kind == BlockStep::kWritev) {
            std::lock_guard lk(mu);
            flags.push_back(s.rw_flags);
        }
        return run_step_sync(fd, s);
    });
    std::vector<uint8_t> d(512, 1);
    EXPECT_EQ(h.run(kTOut, 0, 512, false, nullptr, d.data()), kSOk);
    uint8_t zero = 0;
    h.dev->write_config(kCfgWriteback, {&zero, 1});
    uint8_t wb = 9;
    h.dev->read_config(kCfgWriteback, {&wb, 1});
    EXPECT_EQ(wb, 0);
    EXPECT_EQ(h.run(kTOut, 0, 512, false, nullptr, d.data()), kSOk);
    ASSERT_EQ(flags.size(), 2u);
    EXPECT_EQ(flags[0], 0);
    EXPECT_EQ(flags[1], RWF_DSYNC);
}

TEST_P(VirtioBlkTest, NoFlushNegotiatedMeansWriteThrough) {
    std::vector<int> flags;
    std::mutex mu;
    BlkHarness h(
        false,
        [&](int fd, const BlockStep& s) -> int64_t {
            if (s.kind == BlockStep::kWritev) {
                std::lock_guard lk(mu);
                flags.push_back(s.rw_flags);
            }
            return run_step_sync(fd, s);
        },
        kFFlush | kFConfigWce);
    std::vector<uint8_t> d(512, 1);
    EXPECT_EQ(h.run(kTOut, 0, 512, false, nullptr, d.data()), kSOk);
    ASSERT_EQ(flags.size(), 1u);
    EXPECT_EQ(flags[0], RWF_DSYNC);
}

// A guest that re-posts heads while they are in flight cannot make the
// device hold more than queue-size requests.
TEST_P(VirtioBlkTest, InFlightRequestsBounded) {
    std::mutex mu;
    std::condition_variable cv;
    bool release = false;
    std::atomic<int> started{0};
    BlkHarness h(false, [&](int fd, const BlockStep& s) -> int64_t {
        ++started;
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return release; });
        return run_step_sync(fd, s);
    });
    // Five 3-descriptor chains fill 15 of the 16 descriptors.
    for (int i = 0; i < 5; i++) h.request(kTIn, 0, 512, true);
    h.dev->queue_notify(0);
    EXPECT_EQ(h.ring.queues[0].last_avail_idx(), 5);
    // Re-post the same five heads three more times while they are in flight.
    for (int round = 0; round < 3; round++)
        for (uint16_t hd = 0; hd < 15; hd += 3) h.ring.repost(hd);
    h.dev->queue_notify(0);
    EXPECT_EQ(h.ring.queues[0].last_avail_idx(), FakeRing::kSize);  // stops at 16 in flight
    {
        std::lock_guard lk(mu);
        release = true;
    }
    cv.notify_all();
    int got = 0;
    while (got < 20 && h.complete()) ++got;
    EXPECT_EQ(got, 20);
    EXPECT_EQ(h.ring.queues[0].last_avail_idx(), 20);
    EXPECT_EQ(h.irq.needs_reset, 0);
}

TEST_P(VirtioBlkTest, ResetDrainsAndReactivates) {
    BlkHarness h;
    h.request(kTIn, 0, 512, true);
    h.dev->queue_notify(0);
    h.dev->reset();
    uint8_t wb = 0;
    h.dev->read_config(kCfgWriteback, {&wb, 1});
    EXPECT_EQ(wb, 1);
}

TEST(VirtioBlkFactory, Options) {
    TempImage img(kImage);
    EXPECT_THROW(test::make_emulated<VirtioBlk>("virtio-blk", {}), Error);
    EXPECT_THROW(test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img.path}, {"bogus", "1"}}), Error);
    EXPECT_THROW(test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img.path}, {"sectorsize", "1000"}}), Error);
    EXPECT_THROW(test::make_emulated<VirtioBlk>("virtio-blk", {{"path", "/nonexistent/x.img"}}), Error);

    auto d = test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img.path}, {"ro", ""}, {"sectorsize", "4096/4096"}});
    EXPECT_TRUE(d->features() & kFRo);
    EXPECT_EQ(cfg32(*d, kCfgBlkSize), 4096u);
    d.reset();  // a read-only disk does not let a writer in (image locks)
    auto e = test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img.path}, {"ro", "false"}, {"nodelete", ""}});
    EXPECT_FALSE(e->features() & kFRo);
    EXPECT_FALSE(e->features() & kFDiscard);
    e.reset();
    // The same boolean spellings the config layer validates (case-insensitive).
    EXPECT_FALSE(test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img.path}, {"ro", "False"}})->features() & kFRo);
    EXPECT_TRUE(test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img.path}, {"ro", "true"}})->features() & kFRo);
    EXPECT_THROW(test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img.path}, {"ro", "maybe"}}), Error);
}

// format=: qcow2 probed or named, read-only only; format=raw shows the file itself.
TEST(VirtioBlkFactory, Qcow2Format) {
    if (std::system("qemu-img --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "qemu-img missing";
    TempImage raw(0);
    const std::string img = raw.path + ".qcow2";
    ASSERT_EQ(std::system(("qemu-img create -f qcow2 '" + img + "' 3M >/dev/null").c_str()), 0);
    auto capacity = [](VirtioBlk& d) {
        uint8_t b[8];
        d.read_config(kCfgCapacity, {b, 8});
        uint64_t v = 0;
        for (int i = 7; i >= 0; --i) v = v << 8 | b[i];
        return v;
    };
    auto q = test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img}, {"ro", ""}});
    EXPECT_TRUE(q->features() & kFRo);
    EXPECT_EQ(capacity(*q), (3u << 20) / 512);
    EXPECT_EQ(capacity(*test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img}, {"ro", ""}, {"format", "qcow2"}})),
              (3u << 20) / 512);
    EXPECT_LT(capacity(*test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img}, {"ro", ""}, {"format", "raw"}})),
              (3u << 20) / 512);
    try {
        test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img}});
        ADD_FAILURE() << "a qcow2 opened read-write";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("qcow2 images are read-only in khyve so far"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img}, {"ro", ""}, {"format", "vmdk"}}), Error);
    // format=qcow2 on a raw file: not a qcow2 image.
    EXPECT_THROW(test::make_emulated<VirtioBlk>("virtio-blk", {{"path", raw.path}, {"ro", ""}, {"format", "qcow2"}}),
                 Error);
    ::unlink(img.c_str());
}

TEST(VirtioBlkFactory, DefaultSerialStableAndSized) {
    TempImage img(kImage);
    auto serial_of = [](VirtioBlk& d) {
        FakeRing ring;
        FakeInterrupt irq;
        FakeWorker w;
        VirtioActivation a{&ring.mem, d.features() | virtio::kFVersion1, ring.queues, &irq, &w};
        EXPECT_TRUE(d.activate(a));
        uint64_t hdr = ring.alloc(16), data = ring.alloc(20), st = ring.alloc(1);
        ReqHeader rh{kTGetId, 0, 0};
        std::memcpy(ring.host(hdr), &rh, 16);
        ring.push({{hdr, 16, false}, {data, 20, true}, {st, 1, true}});
        d.queue_notify(0);
        std::string s(reinterpret_cast<char*>(ring.host(data)), 20);
        d.reset();
        return s;
    };
    auto a = test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img.path}});
    // A second device on the same image: only without locks (lock=off).
    auto b = test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img.path}, {"lock", "off"}});
    EXPECT_THROW(test::make_emulated<VirtioBlk>("virtio-blk", {{"path", img.path}}), Error);
    std::string sa = serial_of(*a);
    EXPECT_EQ(sa, serial_of(*b));
    EXPECT_EQ(sa.substr(0, 6), "KHYVE-");
    EXPECT_EQ(sa.find('\0'), std::string::npos);
}

TEST_P(VirtioBlkTest, CountsRequestsBytesAndErrors) {
    BlkHarness h;
    std::vector<uint8_t> pattern(1024, 0x5a);
    EXPECT_EQ(h.run(kTOut, 4, 1024, false, nullptr, pattern.data()), kSOk);
    EXPECT_EQ(h.run(kTIn, 4, 1024, true), kSOk);
    EXPECT_EQ(h.run(kTIn, 0, 100, true), kSIoErr);      // not whole sectors: no bytes move
    EXPECT_EQ(h.run(kTIn, 1000, 512, true), kSIoErr);   // past the end
    EXPECT_EQ(h.run(kTFlush, 0, 0, false), kSOk);
    EXPECT_EQ(h.run(kTGetId, 0, 20, true), kSOk);
    EXPECT_EQ(h.run(99, 0, 0, false), kSUnsupp);
    const BlockCounters& c = h.dev->counters();
    EXPECT_EQ(c.writes.get(), 1u);
    EXPECT_EQ(c.reads.get(), 3u);
    EXPECT_EQ(c.flushes.get(), 1u);
    EXPECT_EQ(c.get_ids.get(), 1u);
    EXPECT_EQ(c.unknown.get(), 1u);
    EXPECT_EQ(c.discards.get(), 0u);
    EXPECT_EQ(c.bytes_written.get(), 1024u);
    EXPECT_EQ(c.bytes_read.get(), 1024u);
    EXPECT_EQ(c.io_errors.get(), 2u);
    EXPECT_EQ(c.unsupported.get(), 1u);
    EXPECT_EQ(h.ring.queues[0].counters().used.get(), 7u);
}

TEST_P(VirtioBlkTest, HostErrorCountsAsIoErrorWithoutBytes) {
    BlkHarness h(false, [](int fd, const BlockStep& s) -> int64_t {
        if (s.kind == BlockStep::kWritev) return -ENOSPC;
        return run_step_sync(fd, s);
    });
    std::vector<uint8_t> pattern(512, 1);
    EXPECT_EQ(h.run(kTOut, 0, 512, false, nullptr, pattern.data()), kSIoErr);
    EXPECT_EQ(h.dev->counters().writes.get(), 1u);
    EXPECT_EQ(h.dev->counters().bytes_written.get(), 0u);
    EXPECT_EQ(h.dev->counters().io_errors.get(), 1u);
}

}  // namespace
}  // namespace khyve
