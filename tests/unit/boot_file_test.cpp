#include "boot/boot_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "common/error.h"

namespace khyve {
namespace {

std::string temp_path(const char* leaf) {
    return std::string(::testing::TempDir()) + "/khyve-boot-file-" + std::to_string(::getpid()) + leaf;
}

TEST(BootFile, ReadsWholeRegularFile) {
    const std::string p = temp_path("-reg");
    std::vector<uint8_t> want(3 * 1048576 + 17);
    for (size_t i = 0; i < want.size(); ++i) want[i] = uint8_t(i * 131 + 7);
    {
        std::ofstream out(p, std::ios::binary);
        out.write(reinterpret_cast<const char*>(want.data()), std::streamsize(want.size()));
    }
    EXPECT_EQ(read_boot_file(p, "kernel"), want);
    { std::ofstream out(p, std::ios::trunc); }
    EXPECT_TRUE(read_boot_file(p, "initrd").empty());
    std::remove(p.c_str());
}

TEST(BootFile, MissingFileNamesWhatAndPath) {
    try {
        read_boot_file("/nonexistent/khyve-vmlinuz", "kernel");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("kernel /nonexistent/khyve-vmlinuz"), std::string::npos) << e.what();
    }
    EXPECT_THROW(read_boot_file("/", "initrd"), Error);  // a directory cannot be read
}

TEST(BootFile, ReadsAPipeToTheEnd) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    std::vector<uint8_t> want(2 * 1048576 + 5, 0x5a);
    std::thread writer([&] {
        size_t off = 0;
        while (off < want.size()) {
            ssize_t n = ::write(p[1], want.data() + off, want.size() - off);
            if (n <= 0) break;
            off += size_t(n);
        }
        ::close(p[1]);
    });
    auto got = read_boot_file("/proc/self/fd/" + std::to_string(p[0]), "initrd");
    writer.join();
    ::close(p[0]);
    EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace khyve
