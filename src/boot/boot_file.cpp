#include "boot/boot_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "common/fd.h"

namespace khyve {

std::vector<uint8_t> read_boot_file(const std::string& path, const char* what) {
    const std::string name = std::string(what) + " " + path;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) throw sys_error("cannot read the " + name);
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) throw sys_error("cannot read the " + name);
    // A regular file is read into a buffer of its size; anything else (a
    // pipe) grows the buffer as it comes. Either way, read to end of file.
    std::vector<uint8_t> data(S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1 : 1 << 20);
    size_t got = 0;
    for (;;) {
        if (got == data.size()) data.resize(data.size() * 2);
        ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw sys_error("cannot read the " + name);
        if (n == 0) break;
        got += size_t(n);
    }
    data.resize(got);
    return data;
}

}  // namespace khyve
