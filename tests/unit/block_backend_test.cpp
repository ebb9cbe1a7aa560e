#include "block/file_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.h"

namespace khyve {
namespace {

// A temporary image file, removed on destruction.
struct TempImage {
    std::string path;
    explicit TempImage(size_t size, uint8_t fill = 0) {
        char tmpl[] = "/tmp/khyve_blk_XXXXXX";
        int fd = ::mkstemp(tmpl);
        if (fd < 0) throw sys_error("mkstemp");
        path = tmpl;
        std::vector<uint8_t> buf(size, fill);
        if (size && ::pwrite(fd, buf.data(), size, 0) != ssize_t(size)) throw sys_error("pwrite");
        ::close(fd);
    }
    ~TempImage() { ::unlink(path.c_str()); }
    std::vector<uint8_t> contents() const {
        int fd = ::open(path.c_str(), O_RDONLY);
        struct stat st{};
        ::fstat(fd, &st);
        std::vector<uint8_t> b(size_t(st.st_size));
        if (::pread(fd, b.data(), b.size(), 0) != ssize_t(b.size())) b.clear();
        ::close(fd);
        return b;
    }
};

// Collects completions; wait() blocks until the tagged request completed.
struct Completions {
    std::mutex mu;
    std::condition_variable cv;
    std::map<uint64_t, int64_t> results;

    BlockCompletionFn fn() {
        return [this](uint64_t tag, int64_t r) {
            std::lock_guard lk(mu);
            results[tag] = r;
            cv.notify_all();
        };
    }
    int64_t wait(uint64_t tag) {
        std::unique_lock lk(mu);
        bool ok = cv.wait_for(lk, std::chrono::seconds(10), [&] { return results.count(tag) != 0; });
        EXPECT_TRUE(ok) << "request " << tag << " never completed";
        return ok ? results[tag] : INT64_MIN;
    }
};

std::unique_ptr<FileBackend> open_image(const std::string& path, BlockOpenOptions::Engine engine,
                                        bool ro = false, bool nocache = false) {
    BlockOpenOptions o;
    o.path = path;
    o.read_only = ro;
    o.nocache = nocache;
    o.engine = engine;
    return FileBackend::open(o);
}

TEST(BlockSectorSizes, Parse) {
    auto s = parse_sector_sizes("512");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->logical, 512u);
    EXPECT_EQ(s->physical, 512u);
    s = parse_sector_sizes("512/4096");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->physical, 4096u);
    EXPECT_FALSE(parse_sector_sizes("4096/512"));  // physical below logical
    EXPECT_FALSE(parse_sector_sizes("256"));
    EXPECT_FALSE(parse_sector_sizes("1000"));
    EXPECT_FALSE(parse_sector_sizes("512/"));
    EXPECT_FALSE(parse_sector_sizes("131072"));
    EXPECT_FALSE(parse_sector_sizes("x"));
}

TEST(BlockBackendOpen, Errors) {
    EXPECT_THROW(open_image("/nonexistent/khyve.img", BlockOpenOptions::Engine::kThread), Error);
    EXPECT_THROW(open_image("/dev/null", BlockOpenOptions::Engine::kThread), Error);  // char device
    TempImage img(4096);
    BlockOpenOptions o;
    o.path = img.path;
    o.sectors = {4096, 4096};
    auto b = FileBackend::open(o);
    EXPECT_EQ(b->size(), 4096u);
    EXPECT_EQ(b->logical_sector_size(), 4096u);
    EXPECT_FALSE(b->read_only());
}

class BlockBackendEngines : public ::testing::TestWithParam<BlockOpenOptions::Engine> {
protected:
    std::unique_ptr<FileBackend> open(const std::string& path, bool ro = false, bool nocache = false) {
        try {
            return open_image(path, GetParam(), ro, nocache);
        } catch (const Error& e) {
            if (GetParam() == BlockOpenOptions::Engine::kUring &&
                std::string(e.what()).find("io_uring") != std::string::npos)
                return nullptr;
            throw;
        }
    }
};

#define OPEN_OR_SKIP(var, ...)                                       \
    auto var = open(__VA_ARGS__);                                    \
    if (!var) GTEST_SKIP() << "io_uring unavailable on this host";

TEST_P(BlockBackendEngines, WriteReadFlushRoundTrip) {
    TempImage img(1 << 20);
    OPEN_OR_SKIP(b, img.path);
    Completions c;
    b->set_completion(c.fn());
    EXPECT_STREQ(b->engine_name(), GetParam() == BlockOpenOptions::Engine::kUring ? "io_uring" : "thread");

    std::vector<uint8_t> a(512, 0xA5), bb(1024, 0x5A);
    iovec wv[2] = {{a.data(), a.size()}, {bb.data(), bb.size()}};
    b->write(4096, wv, 1);
    b->commit();
    EXPECT_EQ(c.wait(1), 1536);
    b->flush(2);
    b->commit();
    EXPECT_EQ(c.wait(2), 0);

    std::vector<uint8_t> r1(1000), r2(536);
    iovec rv[2] = {{r1.data(), r1.size()}, {r2.data(), r2.size()}};
    b->read(4096, rv, 3);
    b->commit();
    EXPECT_EQ(c.wait(3), 1536);
    for (size_t i = 0; i < 1000; i++) ASSERT_EQ(r1[i], i < 512 ? 0xA5 : 0x5A) << i;
    for (uint8_t v : r2) ASSERT_EQ(v, 0x5A);

    auto disk = img.contents();
    EXPECT_EQ(disk[4095], 0);
    EXPECT_EQ(disk[4096], 0xA5);
    EXPECT_EQ(disk[4096 + 512], 0x5A);
    EXPECT_EQ(disk[4096 + 1536], 0);
}

TEST_P(BlockBackendEngines, DiscardAndWriteZeroesReadBackZeros) {
    TempImage img(1 << 20, 0xEE);
    OPEN_OR_SKIP(b, img.path);
    Completions c;
    b->set_completion(c.fn());
    b->discard(0, 65536, 1);
    b->write_zeroes(65536, 8192, false, 2);
    b->write_zeroes(131072, 4096, true, 3);
    b->commit();
    EXPECT_EQ(c.wait(1), 0);
    EXPECT_EQ(c.wait(2), 0);
    EXPECT_EQ(c.wait(3), 0);
    auto disk = img.contents();
    ASSERT_EQ(disk.size(), size_t(1 << 20));  // KEEP_SIZE
    for (size_t i = 65536; i < 65536 + 8192; i++) ASSERT_EQ(disk[i], 0) << i;
    for (size_t i = 131072; i < 131072 + 4096; i++) ASSERT_EQ(disk[i], 0) << i;
    EXPECT_EQ(disk[65536 + 8192], 0xEE);
    EXPECT_EQ(disk[131072 + 4096], 0xEE);
}

TEST_P(BlockBackendEngines, ReadOnlyRefusesWrites) {
    TempImage img(8192, 0x11);
    OPEN_OR_SKIP(b, img.path, true);
    Completions c;
    b->set_completion(c.fn());
    std::vector<uint8_t> a(512, 0x22);
    iovec v{a.data(), a.size()};
    b->write(0, {&v, 1}, 1);
    b->discard(0, 512, 2);
    b->write_zeroes(0, 512, false, 3);
    EXPECT_EQ(c.wait(1), -EROFS);
    EXPECT_EQ(c.wait(2), -EROFS);
    EXPECT_EQ(c.wait(3), -EROFS);
    EXPECT_EQ(img.contents(), std::vector<uint8_t>(8192, 0x11));
}

// nocache (O_DIRECT) with guest buffers at odd addresses goes through bounce
// buffers, in several chunks when the request is larger than one bounce.
TEST_P(BlockBackendEngines, DirectWithUnalignedBuffersBounces) {
    constexpr size_t kLen = BlockOp::kBounceMax + (1 << 20) + 4096;
    TempImage img(kLen + 8192);
    std::unique_ptr<FileBackend> b;
    try {
        b = open(img.path, false, true);
    } catch (const Error& e) {
        GTEST_SKIP() << "O_DIRECT unsupported here: " << e.what();
    }
    if (!b) GTEST_SKIP();
    Completions c;
    b->set_completion(c.fn());
    std::vector<uint8_t> src(kLen + 1);
    for (size_t i = 0; i < src.size(); i++) src[i] = uint8_t(i * 7 + 3);
    iovec wv{src.data() + 1, kLen};  // misaligned on purpose
    b->write(4096, {&wv, 1}, 1);
    b->commit();
    ASSERT_EQ(c.wait(1), int64_t(kLen));
    std::vector<uint8_t> dst(kLen + 3, 0);
    iovec rv[2] = {{dst.data() + 3, 512}, {dst.data() + 3 + 512, kLen - 512}};
    b->read(4096, rv, 2);
    b->commit();
    ASSERT_EQ(c.wait(2), int64_t(kLen));
    EXPECT_EQ(0, std::memcmp(dst.data() + 3, src.data() + 1, kLen));
}

INSTANTIATE_TEST_SUITE_P(BlockEngines, BlockBackendEngines,
                         ::testing::Values(BlockOpenOptions::Engine::kUring,
                                           BlockOpenOptions::Engine::kThread),
                         [](const auto& info) {
                             return info.param == BlockOpenOptions::Engine::kUring ? "io_uring" : "thread";
                         });

// A failed fdatasync poisons every later flush, even when the next
// fdatasync would succeed (the kernel has dropped the dirty pages by then).
TEST(BlockBackendDurability, FlushAfterFailedFdatasyncFails) {
    TempImage img(8192);
    int fdatasync_calls = 0;
    BlockOpenOptions o;
    o.path = img.path;
    o.engine = BlockOpenOptions::Engine::kThread;
    o.syscall_hook = [&](int fd, const BlockStep& s) -> int64_t {
        if (s.kind == BlockStep::kFdatasync && ++fdatasync_calls == 2) return -EIO;
        return run_step_sync(fd, s);
    };
    auto b = FileBackend::open(o);
    Completions c;
    b->set_completion(c.fn());
    b->flush(1);
    EXPECT_EQ(c.wait(1), 0);
    b->flush(2);
    EXPECT_EQ(c.wait(2), -EIO);
    b->flush(3);
    EXPECT_EQ(c.wait(3), -EIO);
    EXPECT_EQ(fdatasync_calls, 2);  // the third never reached the kernel
}

TEST(BlockBackendDurability, WriteThroughUsesDsync) {
    TempImage img(8192);
    std::vector<int> flags;
    BlockOpenOptions o;
    o.path = img.path;
    o.engine = BlockOpenOptions::Engine::kThread;
    o.syscall_hook = [&](int fd, const BlockStep& s) -> int64_t {
        if (s.kind == BlockStep::kWritev) flags.push_back(s.rw_flags);
        return run_step_sync(fd, s);
    };
    auto b = FileBackend::open(o);
    Completions c;
    b->set_completion(c.fn());
    std::vector<uint8_t> a(512, 1);
    iovec v{a.data(), a.size()};
    b->write(0, {&v, 1}, 1);
    EXPECT_EQ(c.wait(1), 512);
    b->set_write_through(true);
    b->write(0, {&v, 1}, 2);
    EXPECT_EQ(c.wait(2), 512);
    ASSERT_EQ(flags.size(), 2u);
    EXPECT_EQ(flags[0], 0);
    EXPECT_EQ(flags[1], RWF_DSYNC);
}

TEST(BlockBackendErrors, HostErrorsBecomeResults) {
    TempImage img(8192);
    BlockOpenOptions o;
    o.path = img.path;
    o.engine = BlockOpenOptions::Engine::kThread;
    o.syscall_hook = [&](int fd, const BlockStep& s) -> int64_t {
        if (s.kind == BlockStep::kWritev) return -ENOSPC;
        if (s.kind == BlockStep::kReadv && s.offset >= 4096) return 0;  // image shrank under us
        if (s.kind == BlockStep::kReadv) return std::min<int64_t>(100, int64_t(s.iov[0].iov_len));  // short reads
        return run_step_sync(fd, s);
    };
    auto b = FileBackend::open(o);
    Completions c;
    b->set_completion(c.fn());
    std::vector<uint8_t> a(512, 1);
    iovec v{a.data(), a.size()};
    b->write(0, {&v, 1}, 1);
    EXPECT_EQ(c.wait(1), -ENOSPC);
    b->read(0, {&v, 1}, 2);
    EXPECT_EQ(c.wait(2), 512);  // resumed after each short read
    b->read(4096, {&v, 1}, 3);
    EXPECT_EQ(c.wait(3), -EIO);
}

// A real host error, no injection: writing beyond RLIMIT_FSIZE fails with
// EFBIG (SIGXFSZ ignored), which the backend reports instead of dying.
TEST(BlockBackendErrors, FileSizeLimitIsAnError) {
    TempImage img(1 << 20);
    auto b = open_image(img.path, BlockOpenOptions::Engine::kThread);
    Completions c;
    b->set_completion(c.fn());
    struct rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
    auto old_sig = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = old;
    lim.rlim_cur = 65536;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
    std::vector<uint8_t> a(512, 1);
    iovec v{a.data(), a.size()};
    b->write(512 * 1024, {&v, 1}, 1);
    int64_t r = c.wait(1);
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_sig);
    EXPECT_EQ(r, -EFBIG);
}

TEST(BlockBackendLifecycle, DestroyWithRequestsInFlightDrains) {
    TempImage img(1 << 20);
    Completions c;
    std::vector<uint8_t> a(4096, 3);
    {
        auto b = open_image(img.path, BlockOpenOptions::Engine::kAuto);
        b->set_completion(c.fn());
        iovec v{a.data(), a.size()};
        for (uint64_t i = 0; i < 64; i++) b->write(i * 4096, {&v, 1}, i);
        b->commit();
    }
    std::lock_guard lk(c.mu);
    EXPECT_EQ(c.results.size(), 64u);
}

// caller_reaps: no completion thread; completions run only inside
// poll_completions() or drain(), on the calling thread.
TEST(BlockBackendLifecycle, CallerReapsCompletesOnlyWhenPolledOrDrained) {
    TempImage img(1 << 20);
    BlockOpenOptions o;
    o.path = img.path;
    o.engine = BlockOpenOptions::Engine::kUring;
    o.caller_reaps = true;
    std::unique_ptr<FileBackend> b;
    try {
        b = FileBackend::open(o);
    } catch (const Error&) {
        GTEST_SKIP() << "io_uring unavailable on this host";
    }
    const int fd = b->completion_fd();
    ASSERT_GE(fd, 0);
    const auto me = std::this_thread::get_id();
    std::map<uint64_t, int64_t> results;
    bool other_thread = false;
    b->set_completion([&](uint64_t tag, int64_t r) {
        other_thread |= std::this_thread::get_id() != me;
        results[tag] = r;
    });
    std::vector<uint8_t> a(4096, 7);
    iovec v{a.data(), a.size()};
    b->write(0, {&v, 1}, 1);
    b->commit();
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);  // the CQE signalled the eventfd
    EXPECT_TRUE(results.empty());        // ... but nothing ran on its own
    b->poll_completions();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[1], 4096);
    // Many in flight, then drain() reaps them all itself.
    for (uint64_t i = 2; i < 66; i++) b->read(i * 4096 % (1 << 20), {&v, 1}, i);
    b->drain();
    EXPECT_EQ(results.size(), 65u);
    EXPECT_FALSE(other_thread);
}

}  // namespace
}  // namespace khyve
