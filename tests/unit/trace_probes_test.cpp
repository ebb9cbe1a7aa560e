// The USDT probes of src/trace/probes.h: every macro compiles, and with
// <sys/sdt.h> each one leaves a khyve note in the binary for tracers to find.
#include "trace/probes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

namespace khyve {
namespace {

// noinline: the probes must stay in the binary even if nothing calls this.
__attribute__((noinline)) void fire_every_probe(unsigned v) {
    KHYVE_PROBE_VM_EXIT(v, 2);
    KHYVE_PROBE_VM_EXIT_RETURN(v, 0);
    KHYVE_PROBE_PIO(0x3f8, 1, true);
    KHYVE_PROBE_MMIO(0xfebf0000ull, 4, false);
    KHYVE_PROBE_VIRTQ_NOTIFY("virtio-blk", 0);
    KHYVE_PROBE_VIRTQ_COMPLETE("virtio-blk", 0, 513);
    int request = 0;
    KHYVE_PROBE_BLK_SUBMIT(2048ull, 4096, 1, &request);
    KHYVE_PROBE_BLK_COMPLETE(0, &request);
}

TEST(TraceProbes, NotesArePresent) {
    fire_every_probe(0);  // a nop when nobody traces
#ifndef KHYVE_USDT
    GTEST_SKIP() << "built without <sys/sdt.h>: probes compiled out";
#else
    if (::access("/usr/bin/readelf", X_OK) != 0) GTEST_SKIP() << "readelf not installed";
    char exe[4096];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    ASSERT_GT(n, 0);
    exe[n] = 0;
    std::string cmd = std::string("/usr/bin/readelf -n '") + exe + "' 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string notes;
    std::array<char, 4096> buf;
    while (size_t got = std::fread(buf.data(), 1, buf.size(), p)) notes.append(buf.data(), got);
    ::pclose(p);
    for (const char* name : {"vm_exit", "vm_exit_return", "pio", "mmio", "virtq_notify", "virtq_complete",
                             "blk_submit", "blk_complete"}) {
        std::string want = std::string("Name: ") + name + "\n";
        EXPECT_NE(notes.find("Provider: khyve\n    " + want), std::string::npos) << name;
    }
#endif
}

}  // namespace
}  // namespace khyve
