#include "ctl/control_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "common/error.h"

namespace khyve {
namespace {

nlohmann::json echo(const nlohmann::json& req) {
    if (req["command"] == "boom") throw Error("boom failed");
    return {{"echo", req["command"]}};
}

TEST(ControlServer, ValidatesRequests) {
    auto r = [](const std::string& line) {
        return nlohmann::json::parse(ControlServer::serve_line(line, echo));
    };
    EXPECT_EQ(r(R"({"version":1,"command":"stats"})")["echo"], "stats");
    EXPECT_EQ(r(R"({"version":1,"command":"stats"})")["ok"], true);
    EXPECT_EQ(r("not json")["ok"], false);
    EXPECT_EQ(r("[1,2]")["ok"], false);
    EXPECT_EQ(r(R"({"command":"stats"})")["ok"], false);
    EXPECT_EQ(r(R"({"version":2,"command":"stats"})")["ok"], false);
    EXPECT_EQ(r(R"({"version":1,"command":5})")["ok"], false);
    auto b = r(R"({"version":1,"command":"boom"})");
    EXPECT_EQ(b["ok"], false);
    EXPECT_EQ(b["error"], "boom failed");
}

TEST(ControlServer, SocketIsOwnerOnlyAndSurvivesAbuse) {
    std::string path = "/tmp/khyve-ctl-test-" + std::to_string(getpid());
    ControlServer srv(path, echo);
    srv.start();
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    // An oversized request without a newline gets an error reply.
    {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        strcpy(a.sun_path, path.c_str());
        ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        std::string big(kControlMaxRequest + 10, 'x');
        (void)!send(fd, big.data(), big.size(), MSG_NOSIGNAL);
        char buf[256] = {};
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        close(fd);
        ASSERT_GT(n, 0);
        EXPECT_NE(std::string(buf).find("\"ok\":false"), std::string::npos);
    }
    // Concurrent clients all get answers.
    std::vector<std::thread> clients;
    std::atomic<int> good{0};
    for (int i = 0; i < 8; ++i)
        clients.emplace_back([&] {
            auto rep = control_request(path, {{"version", 1}, {"command", "ping"}});
            if (rep["echo"] == "ping") good++;
        });
    for (auto& t : clients) t.join();
    EXPECT_EQ(good, 8);
}

int connect_to(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, path.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

std::string read_reply(int fd) {
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, size_t(n));  // a socket
    return out;
}

// A client that dribbles a request one byte at a time gets the same 2 s for
// the whole line as any other, not 2 s per byte.
TEST(ControlServer, DeadlineCoversTheWholeRequest) {
    std::string path = "/tmp/khyve-ctl-slow-" + std::to_string(getpid());
    ControlServer srv(path, echo);
    srv.start();
    int fd = connect_to(path);
    ASSERT_GE(fd, 0);
    const std::string req = R"({"version":1,"command":"ping"})";
    auto start = std::chrono::steady_clock::now();
    for (char c : req) {
        if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) break;  // the server hung up: done
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
    std::string reply = read_reply(fd);
    auto took = std::chrono::steady_clock::now() - start;
    close(fd);
    EXPECT_NE(reply.find("too slow"), std::string::npos) << reply;
    EXPECT_LT(took, std::chrono::milliseconds(150) * req.size());
    // The server carries on.
    EXPECT_EQ(control_request(path, {{"version", 1}, {"command", "ping"}})["echo"], "ping");
}

// Only root and the VM's owner are served, whatever the socket's mode.
TEST(ControlServer, OtherUsersAreRefused) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another user";
    std::string path = "/tmp/khyve-ctl-peer-" + std::to_string(getpid());
    ControlServer srv(path, echo);
    srv.start();
    ASSERT_EQ(chmod(path.c_str(), 0666), 0);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
        int fd = connect_to(path);
        if (fd < 0) _exit(3);
        const std::string req = "{\"version\":1,\"command\":\"ping\"}\n";
        (void)!send(fd, req.data(), req.size(), MSG_NOSIGNAL);
        std::string reply = read_reply(fd);
        (void)!write(p[1], reply.data(), reply.size());
        _exit(0);
    }
    close(p[1]);
    std::string reply;
    char buf[512];
    for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;) reply.append(buf, size_t(n));
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child exit " << WEXITSTATUS(status) << " signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << " (2: setuid, 3: connect)";
    EXPECT_NE(reply.find("permission denied: uid 65534 is neither root nor the VM's owner"), std::string::npos) << reply;
    EXPECT_EQ(reply.find("\"echo\""), std::string::npos) << reply;
}

// bhyvectl --raw-request: input goes out verbatim as it arrives, the reply
// line comes back as it is.
std::string raw(const std::string& path, const std::string& input, int delay_ms = 0) {
    int p[2];
    if (pipe(p) != 0) return "pipe failed";
    std::thread feeder([&, w = p[1]] {
        if (delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        (void)!write(w, input.data(), input.size());
        close(w);
    });
    std::string reply;
    try {
        reply = control_request_raw(path, p[0]);
    } catch (const Error& e) {
        reply = std::string("error: ") + e.what();
    }
    feeder.join();
    close(p[0]);
    return reply;
}

TEST(ControlServer, RawRequestsGetErrorRepliesAndTheServerCarriesOn) {
    std::string path = "/tmp/khyve-ctl-raw-" + std::to_string(getpid());
    ControlServer srv(path, echo);
    srv.start();
    auto ok = nlohmann::json::parse(raw(path, "{\"version\":1,\"command\":\"ping\"}\n"));
    EXPECT_EQ(ok["echo"], "ping");
    // No newline: the end of input ends the request.
    EXPECT_EQ(nlohmann::json::parse(raw(path, "{\"version\":1,\"command\":\"ping\"}"))["ok"], true);
    auto bad = nlohmann::json::parse(raw(path, "{\"version\":1,\n"));
    EXPECT_EQ(bad["ok"], false);
    EXPECT_NE(bad["error"].get<std::string>().find("malformed request"), std::string::npos);
    auto big = nlohmann::json::parse(raw(path, std::string(kControlMaxRequest + 100, 'a') + "\n"));
    EXPECT_EQ(big["error"], "request too large, incomplete or too slow");
    // A client that says nothing for longer than 2 s is answered and dropped.
    auto slow = nlohmann::json::parse(raw(path, "{\"version\":1,\"command\":\"ping\"}\n", 2600));
    EXPECT_EQ(slow["error"], "request too large, incomplete or too slow");
    // 20 clients at once, good and bad mixed: every one gets its own answer.
    std::vector<std::thread> clients;
    std::atomic<int> good{0}, refused{0};
    for (int i = 0; i < 20; ++i)
        clients.emplace_back([&, i] {
            auto r = nlohmann::json::parse(raw(path, i % 2 ? "{\"version\":1,\"command\":\"ping\"}\n" : "]]\n"));
            if (r["ok"] == true && r["echo"] == "ping") good++;
            if (r["ok"] == false) refused++;
        });
    for (auto& t : clients) t.join();
    EXPECT_EQ(good, 10);
    EXPECT_EQ(refused, 10);
    EXPECT_EQ(control_request(path, {{"version", 1}, {"command", "ping"}})["echo"], "ping");
}

TEST(ControlServer, ClientReportsNotRunning) {
    EXPECT_THROW(control_request("/tmp/khyve-no-such-socket", {{"version", 1}}), Error);
}

}  // namespace
}  // namespace khyve

namespace khyve {
namespace {

TEST(ControlServer, ReplyWithInvalidUtf8DoesNotThrow) {
    auto bad = [](const nlohmann::json&) { return nlohmann::json{{"name", std::string("a\x03\xff")}}; };
    std::string out;
    EXPECT_NO_THROW(out = ControlServer::serve_line(R"({"version":1,"command":"x"})", bad));
    EXPECT_NE(out.find("\"ok\":true"), std::string::npos);
}

}  // namespace
}  // namespace khyve
