#include <gtest/gtest.h>

#include <sstream>

#include "common/error.h"
#include "diskboot/loader_prompt.h"

namespace khyve::diskboot {
namespace {

DiskBootChoice two_entries() {
    DiskBootChoice c;
    c.entries.push_back({"Debian 6.1", "/boot/vmlinuz-6.1", "/boot/initrd-6.1", "root=/dev/vda1 ro", 1, "bls", {}});
    c.entries.push_back({"Debian 5.10", "/boot/vmlinuz-5.10", "/boot/initrd-5.10", "root=/dev/vda1", 1, "bls",
                         {"/boot/ucode"}});
    c.default_index = 0;
    return c;
}

struct Session {
    std::istringstream in;
    std::ostringstream out;
    PromptOutcome outcome;
    Session(const DiskBootChoice& c, const std::string& input, std::function<bool()> key = nullptr,
            int autoboot = 3,
            std::function<std::vector<std::string>(unsigned, const std::string&)> ls = nullptr)
        : in(input) {
        outcome = run_loader_prompt(c, PromptIo{in, out, std::move(key), std::move(ls)}, autoboot);
    }
};

TEST(DiskbootPrompt, EofBootsTheDefault) {
    Session s(two_entries(), "");
    EXPECT_TRUE(s.outcome.boot);
    EXPECT_EQ(s.outcome.entry.kernel_path, "/boot/vmlinuz-6.1");
    EXPECT_NE(s.out.str().find(" *1. Debian 6.1 (bls, partition 1)"), std::string::npos) << s.out.str();
    EXPECT_NE(s.out.str().find("OK "), std::string::npos);
}

TEST(DiskbootPrompt, BootNumberAndLabel) {
    EXPECT_EQ(Session(two_entries(), "boot 2\n").outcome.entry.kernel_path, "/boot/vmlinuz-5.10");
    EXPECT_EQ(Session(two_entries(), "boot Debian 5.10\n").outcome.entry.kernel_path, "/boot/vmlinuz-5.10");
    Session bad(two_entries(), "boot 3\nboot 0\nboot\n");
    EXPECT_EQ(bad.outcome.entry.kernel_path, "/boot/vmlinuz-6.1");
    EXPECT_NE(bad.out.str().find("no entry '3' (1-2)"), std::string::npos) << bad.out.str();
}

TEST(DiskbootPrompt, SetUnsetAndShow) {
    Session s(two_entries(),
              "set entry=2\nset cmdline=root=/dev/vda2 console=ttyS0 init=/bin/sh\nset kernel=/vmlinuz\n"
              "set initrd=/x.img\nunset kernel\nshow\nset bogus=1\nset nothing\nunset never\nboot\n");
    ASSERT_TRUE(s.outcome.boot);
    EXPECT_EQ(s.outcome.entry.kernel_path, "/boot/vmlinuz-5.10");
    EXPECT_EQ(s.outcome.entry.cmdline, "root=/dev/vda2 console=ttyS0 init=/bin/sh");
    EXPECT_EQ(s.outcome.entry.initrd_path, "/x.img");
    EXPECT_TRUE(s.outcome.entry.extra_initrd_paths.empty());
    const std::string out = s.out.str();
    EXPECT_NE(out.find("cmdline=root=/dev/vda2 console=ttyS0 init=/bin/sh\n"), std::string::npos) << out;
    EXPECT_NE(out.find("entry=2\n"), std::string::npos);
    EXPECT_NE(out.find("unknown variable 'bogus'"), std::string::npos);
    EXPECT_NE(out.find("usage: set var=value"), std::string::npos);
    EXPECT_NE(out.find("'never' is not set"), std::string::npos);
}

TEST(DiskbootPrompt, ShowsAllInitrds) {
    Session s(two_entries(), "show initrd\nset entry=2\nshow initrd\nquit\n");
    EXPECT_NE(s.out.str().find("initrd=/boot/initrd-6.1\n"), std::string::npos);
    EXPECT_NE(s.out.str().find("initrd=/boot/initrd-5.10,/boot/ucode\n"), std::string::npos);
}

TEST(DiskbootPrompt, QuitDoesNotBoot) {
    Session s(two_entries(), "quit\nboot\n");
    EXPECT_FALSE(s.outcome.boot);
}

TEST(DiskbootPrompt, UnknownCommandAndHelp) {
    Session s(two_entries(), "frobnicate\nhelp\n\n   \n");
    EXPECT_NE(s.out.str().find("unknown command 'frobnicate'; try help"), std::string::npos);
    EXPECT_NE(s.out.str().find("boot [n|label]"), std::string::npos);
    EXPECT_TRUE(s.outcome.boot);
}

TEST(DiskbootPrompt, LsUsesTheSelectedPartition) {
    DiskBootChoice c = two_entries();
    c.entries[1].partition = 5;
    std::vector<std::pair<unsigned, std::string>> calls;
    auto ls = [&](unsigned part, const std::string& path) -> std::vector<std::string> {
        calls.push_back({part, path});
        if (path == "/missing") throw Error("disk.img partition 5: /missing: not found");
        return {"boot/", "vmlinuz@", "evil\x1b[2Jname"};
    };
    Session s(c, "ls\nset entry=2\nls /boot\nls /missing\nquit\n", nullptr, 3, ls);
    ASSERT_EQ(calls.size(), 3u);
    EXPECT_EQ(calls[0], std::make_pair(1u, std::string("/")));
    EXPECT_EQ(calls[1], std::make_pair(5u, std::string("/boot")));
    const std::string out = s.out.str();
    EXPECT_NE(out.find("  vmlinuz@\n"), std::string::npos);
    EXPECT_NE(out.find("evil?[2Jname"), std::string::npos);  // no escape reaches the terminal
    EXPECT_EQ(out.find('\x1b'), std::string::npos);
    EXPECT_NE(out.find("/missing: not found"), std::string::npos);
    EXPECT_NE(Session(c, "ls\n").out.str().find("ls is not available"), std::string::npos);
}

TEST(DiskbootPrompt, CountdownWithoutKeyBootsDefault) {
    int waits = 0;
    Session s(two_entries(), "boot 2\n", [&] { ++waits; return false; }, 3);
    EXPECT_EQ(waits, 3);
    EXPECT_TRUE(s.outcome.boot);
    EXPECT_EQ(s.outcome.entry.kernel_path, "/boot/vmlinuz-6.1");  // input never read
    EXPECT_NE(s.out.str().find("in 1 second..."), std::string::npos);
    EXPECT_EQ(s.in.peek(), 'b');  // no prompt was read
}

TEST(DiskbootPrompt, KeyDuringCountdownGivesThePrompt) {
    int waits = 0;
    Session s(two_entries(), "boot 2\n", [&] { return ++waits == 2; }, 5);
    EXPECT_EQ(waits, 2);
    EXPECT_EQ(s.outcome.entry.kernel_path, "/boot/vmlinuz-5.10");
}

TEST(DiskbootPrompt, NoCountdownWhenDisabledOrZero) {
    int waits = 0;
    Session none(two_entries(), "boot 2\n", [&] { ++waits; return false; }, -1);
    EXPECT_EQ(waits, 0);
    EXPECT_EQ(none.outcome.entry.kernel_path, "/boot/vmlinuz-5.10");
    Session zero(two_entries(), "boot 2\n", [&] { ++waits; return false; }, 0);
    EXPECT_EQ(waits, 0);
    EXPECT_EQ(zero.outcome.entry.kernel_path, "/boot/vmlinuz-6.1");  // immediate autoboot
}

TEST(DiskbootPrompt, HostileLabelsAndEmptyChoice) {
    DiskBootChoice c = two_entries();
    c.entries[0].label = "bad\x1b]0;title\x07";
    c.default_index = 99;  // out of range: first entry
    Session s(c, "");
    EXPECT_EQ(s.out.str().find('\x1b'), std::string::npos);
    EXPECT_EQ(s.outcome.entry.kernel_path, "/boot/vmlinuz-6.1");
    Session empty(DiskBootChoice{}, "boot\n");
    EXPECT_FALSE(empty.outcome.boot);
    Session longline(two_entries(), std::string(10000, 'x') + "\nquit\n");
    EXPECT_NE(longline.out.str().find("command too long"), std::string::npos);
}

}  // namespace
}  // namespace khyve::diskboot
