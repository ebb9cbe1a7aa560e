// Helpers shared by the config_*_test.cpp files.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "common/error.h"
#include "config/bhyve_options.h"

namespace khyve::test {

inline BhyveArgs parse(std::vector<std::string> args) {
    args.insert(args.begin(), "bhyve");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return parse_bhyve_args(int(args.size()), argv.data());
}

// The Error's message, or "" if fn did not throw one.
template <typename Fn>
std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

#define EXPECT_ERROR_HAS(expr, text)                                          \
    do {                                                                      \
        std::string msg_ = ::khyve::test::error_of([&] { (void)(expr); });    \
        EXPECT_NE(msg_, "") << "no Error thrown by " #expr;                   \
        EXPECT_NE(msg_.find(text), std::string::npos) << "message: " << msg_; \
    } while (0)

// A file in /tmp removed at scope exit.
class TempFile {
public:
    explicit TempFile(const std::string& content) {
        char tmpl[] = "/tmp/khyve_config_testXXXXXX";
        int fd = mkstemp(tmpl);
        if (fd < 0) throw sys_error("mkstemp");
        ::close(fd);
        path_ = tmpl;
        std::ofstream(path_) << content;
    }
    ~TempFile() { std::remove(path_.c_str()); }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

}  // namespace khyve::test
