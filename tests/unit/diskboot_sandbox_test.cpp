// bhyveload -d's disk parser runs in a sandboxed child: it sees the image and
// nothing else, cannot reach the host, and what it sends back is checked.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "common/error.h"
#include "diskboot/sandboxed_load.h"

namespace khyve::diskboot {
namespace {

struct TempImage {
    std::string path;
    explicit TempImage(const std::string& content) {
        char tmpl[] = "/tmp/khyve_sbx_XXXXXX";
        int fd = ::mkstemp(tmpl);
        path = tmpl;
        if (::write(fd, content.data(), content.size()) != ssize_t(content.size())) path.clear();
        ::close(fd);
    }
    ~TempImage() { ::unlink(path.c_str()); }
};

std::string error_of(const std::function<LoadedBoot(const std::string&)>& parse, const std::string& image,
                     const LoaderLimits& lim = {}) {
    try {
        load_sandboxed(image, parse, lim);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(DiskbootSandbox, ChildReadsTheImageAndHandsBackItsFindings) {
    TempImage img("KERNELBYTES");
    auto b = load_sandboxed(img.path, [](const std::string& disk) {
        std::ifstream in(disk, std::ios::binary);
        std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        LoadedBoot r;
        r.kernel.assign(all.begin(), all.end());
        r.initrd = {1, 2, 3, 4};
        r.cmdline = "console=ttyS0 root=/dev/vda1";
        return r;
    });
    EXPECT_EQ(std::string(b.kernel.begin(), b.kernel.end()), "KERNELBYTES");
    EXPECT_EQ(b.initrd.size(), 4u);
    EXPECT_EQ(b.cmdline, "console=ttyS0 root=/dev/vda1");
}

TEST(DiskbootSandbox, NoOtherHostFileCanBeNamed) {
    TempImage img("x");
    std::string msg = error_of([](const std::string&) -> LoadedBoot {
        for (const char* p : {"/etc/passwd", "/proc/self/environ", "/../../etc/passwd", "/0"}) {
            int fd = ::open(p, O_RDONLY);
            if (fd >= 0 && std::string(p) != "/0") throw Error(std::string("opened ") + p);
            if (fd >= 0) ::close(fd);
        }
        throw Error("nothing else opened");
    }, img.path);
    EXPECT_EQ(msg, "nothing else opened");
}

TEST(DiskbootSandbox, ForbiddenCallEndsTheChildWithOneLine) {
    TempImage img("x");
    std::string msg = error_of([](const std::string&) -> LoadedBoot {
        ::socket(AF_INET, SOCK_STREAM, 0);  // the filter kills the child at once
        return {};
    }, img.path);
    EXPECT_NE(msg.find("the sandboxed disk parser was killed by signal 31 (a system call its sandbox refuses)"),
              std::string::npos)
        << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(DiskbootSandbox, ParserErrorsNameTheOperatorsPath) {
    TempImage img("x");
    std::string msg = error_of([](const std::string& disk) -> LoadedBoot {
        throw Error(disk + ": no Linux kernel found (looked for extlinux.conf, loader entries, /vmlinuz)");
    }, img.path);
    EXPECT_EQ(msg, img.path + ": no Linux kernel found (looked for extlinux.conf, loader entries, /vmlinuz)");
}

TEST(DiskbootSandbox, AnswersBeyondTheLimitsAreRefused) {
    TempImage img("x");
    LoaderLimits lim;
    lim.max_kernel = 16;
    lim.max_initrd = 16;
    lim.max_cmdline = 8;
    auto sending = [](size_t k, size_t i, size_t c) {
        return [=](const std::string&) {
            LoadedBoot r;
            r.kernel.assign(k, 0x90);
            r.initrd.assign(i, 0);
            r.cmdline.assign(c, 'a');
            return r;
        };
    };
    EXPECT_NE(error_of(sending(17, 0, 0), img.path, lim).find("a kernel of 17 bytes"), std::string::npos);
    EXPECT_NE(error_of(sending(0, 0, 0), img.path, lim).find("a kernel of 0 bytes"), std::string::npos);
    EXPECT_NE(error_of(sending(1, 17, 0), img.path, lim).find("an initrd of 17 bytes"), std::string::npos);
    EXPECT_NE(error_of(sending(1, 0, 9), img.path, lim).find("a command line of 9 bytes"), std::string::npos);
    EXPECT_EQ(error_of(sending(16, 16, 8), img.path, lim), "");
}

TEST(DiskbootSandbox, MemoryLimitHolds) {
    if (!kLoaderMemoryLimited)
        GTEST_SKIP() << "the AddressSanitizer build has no RLIMIT_AS (its shadow needs terabytes); "
                        "the plain build runs this test";
    TempImage img("x");
    LoaderLimits lim;
    lim.memory = 256ull << 20;
    std::string msg = error_of([](const std::string&) -> LoadedBoot {
        std::vector<uint8_t> big(512ull << 20, 1);  // bad_alloc under RLIMIT_AS
        LoadedBoot r;
        r.kernel.assign(big.begin(), big.begin() + 1);
        return r;
    }, img.path, lim);
    EXPECT_NE(msg, "");
}

TEST(DiskbootSandbox, MissingImageIsOneError) {
    EXPECT_NE(error_of([](const std::string&) { return LoadedBoot{}; }, "/nonexistent/disk.img").find("/nonexistent/disk.img"),
              std::string::npos);
}

}  // namespace
}  // namespace khyve::diskboot
