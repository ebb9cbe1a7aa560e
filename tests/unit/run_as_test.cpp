// khyve.user / khyve.chroot: resolving the user, and the drop itself in a
// child process (it needs root; the unit tests run as root in CI).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "common/error.h"
#include "config/bhyve_options.h"
#include "config_test_util.h"
#include "config/machine_config.h"
#include "sandbox/run_as.h"

namespace khyve {
namespace {

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    "khyve:x:1001:1002::/home/khyve:/bin/sh\n"
    "broken:x:abc:1::/:/bin/sh\n";

TEST(RunAs, NamesAndNumbers) {
    auto a = parse_run_as("khyve", "", kPasswd);
    EXPECT_TRUE(a.change_ids);
    EXPECT_EQ(a.uid, 1001u);
    EXPECT_EQ(a.gid, 1002u);
    auto b = parse_run_as("65534", "/var/empty", kPasswd);
    EXPECT_EQ(b.uid, 65534u);
    EXPECT_EQ(b.gid, 65534u);
    EXPECT_EQ(b.chroot, "/var/empty");
    auto c = parse_run_as("1000:100", "", "");
    EXPECT_EQ(c.uid, 1000u);
    EXPECT_EQ(c.gid, 100u);
    auto none = parse_run_as("", "", kPasswd);
    EXPECT_FALSE(none.change_ids);
}

TEST(RunAs, BadUsersAreOneError) {
    auto msg = [](const std::string& user, const std::string& chroot = "") {
        try {
            parse_run_as(user, chroot, kPasswd);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_EQ(msg("nosuch"), "khyve.user: no user 'nosuch' in /etc/passwd (or give UID[:GID])");
    EXPECT_EQ(msg("root"), "khyve.user: 'root' is root (uid 0): nothing would be dropped");
    EXPECT_EQ(msg("0"), "khyve.user: '0' is root (uid 0): nothing would be dropped");
    EXPECT_EQ(msg("1:2:3"), "khyve.user: '1:2:3' is not UID[:GID] or a user name");
    EXPECT_EQ(msg("4294967295"), "khyve.user: '4294967295' is not UID[:GID] or a user name");
    EXPECT_EQ(msg("broken"), "khyve.user: the passwd entry of 'broken' has no valid uid and gid");
    EXPECT_EQ(msg("", "var/empty"), "khyve.chroot: 'var/empty' is not an absolute path");
}

TEST(RunAs, DestroyOnPoweroffNeedsRoot) {
    auto tree = test::parse({"-D", "-o", "khyve.user=65534", "vm"}).tree;
    try {
        MachineConfig::from_tree(tree);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("-D cannot go with khyve.user"), std::string::npos) << e.what();
    }
}

// The drop in a child: ids, groups and root change for the calling thread and
// the threads it creates; uid 0 cannot be regained.
TEST(RunAs, BecomeDropsIdsAndRootForLaterThreads) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CI runs the unit tests as root)";
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int code = 0;
        try {
            RunAs r = parse_run_as("65534:65533", "/proc/self/fd", "");
            become(r);
            std::thread([&] {
                if (::getuid() != 65534 || ::geteuid() != 65534) code = 1;
                else if (::getgid() != 65533 || ::getegid() != 65533) code = 2;
                else if (::access("/etc/passwd", F_OK) == 0) code = 3;  // the old root is out of sight
                else if (::setuid(0) == 0) code = 4;
                gid_t groups[4];
                if (::getgroups(4, groups) != 1 || groups[0] != 65533) code = 5;
            }).join();
        } catch (const std::exception&) {
            code = 6;
        }
        ::_exit(code);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace khyve
