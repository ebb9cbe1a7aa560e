#include "ctl/control_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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
