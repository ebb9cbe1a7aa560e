// Image locks: khyve against khyve (two opens in this process conflict as two
// processes would: OFD locks belong to the open file description), the lock
// bytes against QEMU's, and khyve against Debian's qemu-io and qemu-img.
#include "block/image_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "block/file_backend.h"
#include "common/error.h"
#include "image/qcow2_backend.h"

namespace khyve {
namespace {

using Lock = BlockOpenOptions::Lock;

struct TempImage {
    std::string path;
    TempImage() {
        char tmpl[] = "/tmp/khyve_lock_XXXXXX";
        int fd = ::mkstemp(tmpl);
        if (fd < 0) throw sys_error("mkstemp");
        path = tmpl;
        if (::ftruncate(fd, 1 << 20) < 0) throw sys_error("ftruncate");
        ::close(fd);
    }
    ~TempImage() { ::unlink(path.c_str()); }
};

std::unique_ptr<FileBackend> open_image(const std::string& path, bool read_only, Lock lock = Lock::kDisk) {
    BlockOpenOptions o;
    o.path = path;
    o.read_only = read_only;
    o.engine = BlockOpenOptions::Engine::kThread;
    o.lock = lock;
    return FileBackend::open(o);
}

// The message open() refuses with, or "" when it opens.
std::string refusal(const std::string& path, bool read_only, Lock lock = Lock::kDisk) {
    try {
        open_image(path, read_only, lock);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// Whether anyone but the probing fd holds a lock on byte.
bool byte_locked(const std::string& path, int64_t byte) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct flock fl{};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    bool locked = ::fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    ::close(fd);
    return locked;
}

// The lock bytes (100..103, 200..203) someone holds on path.
std::vector<int> locked_bytes(const std::string& path) {
    std::vector<int> out;
    for (int base : {kLockPermBase, kLockSharedBase})
        for (int i = 0; i < 4; ++i)
            if (byte_locked(path, base + i)) out.push_back(base + i);
    return out;
}

std::string self_pid() { return "this process (pid " + std::to_string(::getpid()) + ", "; }

TEST(ImageLock, SecondWriterRefused) {
    TempImage img;
    auto a = open_image(img.path, false);
    std::string why = refusal(img.path, false);
    EXPECT_EQ(why.rfind("virtio-blk: ", 0), 0u) << why;
    EXPECT_NE(why.find("holds the write lock on " + img.path), std::string::npos) << why;
    // Both opens are this process's: /proc names it.
    EXPECT_NE(why.find(self_pid()), std::string::npos) << why;
    EXPECT_EQ(why.find('\n'), std::string::npos) << why;
}

TEST(ImageLock, ReaderRefusedWhileWriterHolds) {
    TempImage img;
    auto a = open_image(img.path, false);
    std::string why = refusal(img.path, true);
    EXPECT_NE(why.find("holds the write lock on " + img.path), std::string::npos) << why;
}

TEST(ImageLock, WriterRefusedWhileReaderHolds) {
    TempImage img;
    auto a = open_image(img.path, true);
    std::string why = refusal(img.path, false);
    EXPECT_NE(why.find("has " + img.path + " open and does not share write access"), std::string::npos) << why;
}

TEST(ImageLock, TwoReadersShare) {
    TempImage img;
    auto a = open_image(img.path, true);
    auto b = open_image(img.path, true);
    EXPECT_TRUE(a && b);
}

TEST(ImageLock, ReleasedWithTheFdAndOnRefusal) {
    TempImage img;
    {
        auto a = open_image(img.path, false);
        EXPECT_FALSE(refusal(img.path, false).empty());
    }
    EXPECT_TRUE(locked_bytes(img.path).empty());
    // A refused open leaves nothing behind: a writer opens once the reader is gone.
    {
        auto r = open_image(img.path, true);
        EXPECT_FALSE(refusal(img.path, false).empty());
        EXPECT_EQ(locked_bytes(img.path), (std::vector<int>{100, 201}));
    }
    auto w = open_image(img.path, false);
    EXPECT_TRUE(w);
}

TEST(ImageLock, LockOffNeitherTakesNorTests) {
    TempImage img;
    auto a = open_image(img.path, false);
    auto b = open_image(img.path, false, Lock::kNone);
    EXPECT_TRUE(b);
    a.reset();
    EXPECT_TRUE(locked_bytes(img.path).empty());
}

// The bytes QEMU 7.2 locks for a virtio-blk disk (checked with /proc/locks
// against qemu-system-x86_64 -drive if=virtio): 100-101 and 201 read-write,
// 100 and 201 read-only; on a qcow2 backing file 100, 201 and 203.
TEST(ImageLock, BytesAsQemu) {
    TempImage img;
    {
        auto w = open_image(img.path, false);
        EXPECT_EQ(locked_bytes(img.path), (std::vector<int>{100, 101, 201}));
    }
    {
        auto r = open_image(img.path, true);
        EXPECT_EQ(locked_bytes(img.path), (std::vector<int>{100, 201}));
    }
    {
        auto f = open_image(img.path, true, Lock::kImageFile);
        EXPECT_EQ(locked_bytes(img.path), (std::vector<int>{100, 201, 203}));
    }
}

TEST(ImageLock, BlockDevice) {
    // A loop device needs root and a free loop slot; tmpfs /dev suffices.
    TempImage img;
    char dev[64] = {};
    FILE* p = ::popen(("losetup -f --show '" + img.path + "' 2>/dev/null").c_str(), "r");
    if (!p) GTEST_SKIP() << "no losetup";
    bool got = std::fgets(dev, sizeof dev, p) != nullptr;
    ::pclose(p);
    if (!got) GTEST_SKIP() << "cannot set up a loop device here";
    std::string path(dev);
    while (!path.empty() && path.back() == '\n') path.pop_back();
    {
        auto a = open_image(path, false);
        EXPECT_NE(refusal(path, false).find("holds the write lock on " + path), std::string::npos);
    }
    int rc = std::system(("losetup -d '" + path + "'").c_str());
    EXPECT_EQ(rc, 0);
}

// --- Against QEMU -----------------------------------------------------------

bool have_qemu_io() {
    return std::system("qemu-io --version >/dev/null 2>&1 && qemu-img --version >/dev/null 2>&1") == 0;
}

#define REQUIRE_QEMU() \
    if (!have_qemu_io()) GTEST_SKIP() << "qemu-io/qemu-img missing (scripts/install-deps.sh: qemu-utils)"

struct Ran {
    int status = -1;
    std::string out;  // stdout and stderr
};

Ran run(const std::string& cmd) {
    Ran r;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) r.out += buf;
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

// `qemu-io ARGS... -c 'sleep 100000' IMG`, holding the image open until the
// destructor kills it, once its lock on byte `ready` is seen.
class QemuIoHolder {
public:
    QemuIoHolder(const std::string& img, std::vector<std::string> args, int64_t ready) {
        args.insert(args.begin(), "qemu-io");
        args.insert(args.end(), {"-c", "sleep 100000", img});
        pid_ = ::fork();
        if (pid_ == 0) {
            int null = ::open("/dev/null", O_RDWR);
            ::dup2(null, 0);
            ::dup2(null, 1);
            ::dup2(null, 2);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execvp("qemu-io", argv.data());
            ::_exit(127);
        }
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!byte_locked(img, ready) && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        locked_ = byte_locked(img, ready);
    }
    ~QemuIoHolder() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    bool locked() const { return locked_; }
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    bool locked_ = false;
};

TEST(ImageLockQemu, KhyveRefusedWhileQemuIoWrites) {
    REQUIRE_QEMU();
    TempImage img;
    QemuIoHolder q(img.path, {"-f", "raw"}, 101);
    ASSERT_TRUE(q.locked()) << "qemu-io never locked byte 101";
    std::string holder = "pid " + std::to_string(q.pid()) + " (qemu-io)";
    std::string why = refusal(img.path, false);
    EXPECT_EQ(why, "virtio-blk: " + holder + " holds the write lock on " + img.path);
    why = refusal(img.path, true);
    EXPECT_EQ(why, "virtio-blk: " + holder + " holds the write lock on " + img.path);
    // qemu-io shares everything, so bytes 2xx stay free: nothing else left.
    EXPECT_EQ(locked_bytes(img.path), (std::vector<int>{100, 101}));
}

TEST(ImageLockQemu, KhyveWriterOpensBesideQemuIoReader) {
    REQUIRE_QEMU();
    TempImage img;
    // qemu-io -r takes consistent read and shares all: QEMU itself lets a
    // writer in beside it, and so does khyve.
    QemuIoHolder q(img.path, {"-r", "-f", "raw"}, 100);
    ASSERT_TRUE(q.locked());
    EXPECT_EQ(refusal(img.path, false), "");
}

TEST(ImageLockQemu, QemuIoRefusedWhileKhyveWrites) {
    REQUIRE_QEMU();
    TempImage img;
    auto k = open_image(img.path, false);
    Ran w = run("qemu-io -f raw -c 'write 0 512' '" + img.path + "'");
    EXPECT_NE(w.status, 0) << w.out;
    EXPECT_NE(w.out.find("Failed to get \"write\" lock"), std::string::npos) << w.out;
    // qemu-io -r shares write, as it would beside a QEMU guest.
    Ran r = run("qemu-io -f raw -r -c 'read 0 512' '" + img.path + "'");
    EXPECT_EQ(r.status, 0) << r.out;
    // qemu-img convert reads consistently and does not share write unless
    // forced (-U), as beside a QEMU guest.
    const std::string copy = img.path + ".copy";
    Ran conv = run("qemu-img convert -O raw '" + img.path + "' '" + copy + "'");
    EXPECT_NE(conv.status, 0) << conv.out;
    EXPECT_NE(conv.out.find("Failed to get shared \"write\" lock"), std::string::npos) << conv.out;
    Ran conv_forced = run("qemu-img convert -U -O raw '" + img.path + "' '" + copy + "'");
    EXPECT_EQ(conv_forced.status, 0) << conv_forced.out;
    ::unlink(copy.c_str());
    Ran forced = run("qemu-img info -U '" + img.path + "'");
    EXPECT_EQ(forced.status, 0) << forced.out;
    EXPECT_NE(forced.out.find("file format: raw"), std::string::npos) << forced.out;
}

TEST(ImageLockQemu, QemuIoWriteRefusedWhileKhyveReads) {
    REQUIRE_QEMU();
    TempImage img;
    auto k = open_image(img.path, true);
    Ran w = run("qemu-io -f raw -c 'write 0 512' '" + img.path + "'");
    EXPECT_NE(w.status, 0) << w.out;
    EXPECT_NE(w.out.find("Failed to get \"write\" lock"), std::string::npos) << w.out;
    Ran forced = run("qemu-img info -U '" + img.path + "'");
    EXPECT_EQ(forced.status, 0) << forced.out;
}

TEST(ImageLockQemu, BackingFilesAreShareLocked) {
    REQUIRE_QEMU();
    TempImage base;
    std::string top = base.path + ".qcow2";
    ASSERT_EQ(run("qemu-img create -q -f qcow2 -b '" + base.path + "' -F raw '" + top + "'").status, 0);
    {
        BlockOpenOptions o;
        o.path = top;
        o.read_only = true;
        o.engine = BlockOpenOptions::Engine::kThread;
        auto chain = open_disk_image(o, ImageFormat::kQcow2);
        EXPECT_EQ(locked_bytes(base.path), (std::vector<int>{100, 201, 203}));
        EXPECT_EQ(locked_bytes(top), (std::vector<int>{100, 201, 203}));
        Ran w = run("qemu-io -f raw -c 'write 0 512' '" + base.path + "'");
        EXPECT_NE(w.out.find("Failed to get \"write\" lock"), std::string::npos) << w.out;
        // Readers share: a second khyve reads the chain, qemu-img reads the base.
        auto again = open_disk_image(o, ImageFormat::kQcow2);
        EXPECT_TRUE(again);
        EXPECT_EQ(run("qemu-io -f raw -r -c 'read 0 512' '" + base.path + "'").status, 0);
        // A writer on the base is refused by khyve too.
        EXPECT_NE(refusal(base.path, false).find("does not share write access"), std::string::npos);
    }
    EXPECT_TRUE(locked_bytes(base.path).empty());
    ::unlink(top.c_str());
}

}  // namespace
}  // namespace khyve
