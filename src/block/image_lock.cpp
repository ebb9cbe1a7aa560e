#include "block/image_lock.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "common/error.h"
#include "common/size.h"

namespace khyve {

namespace {

using namespace image_perm;

constexpr int kPermBits = 4;  // bits 0..3: kAll

// QEMU's names for the bits (bdrv_perm_names), so messages read alike.
const char* perm_name(int bit) {
    static constexpr const char* kNames[kPermBits] = {"consistent read", "write", "write unchanged", "resize"};
    return kNames[bit];
}

// One byte, F_RDLCK or F_UNLCK, on the open file description.
int set_byte(int fd, int64_t byte, short type) {
    struct flock fl{};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    int r;
    do {
        r = ::fcntl(fd, F_OFD_SETLK, &fl);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? errno : 0;
}

// 0 when nobody else holds a lock on byte, EAGAIN when someone does, else
// the errno of F_OFD_GETLK.
int test_byte(int fd, int64_t byte) {
    struct flock fl{};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    if (::fcntl(fd, F_OFD_GETLK, &fl) < 0) return errno;
    return fl.l_type == F_UNLCK ? 0 : EAGAIN;
}

std::string read_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

// Whether a /proc/PID/fdinfo/FD file lists a lock covering byte. Its lock
// lines read as /proc/locks does:
//   lock:	1: OFDLCK ADVISORY  READ -1 fe:00:10952883 100 101
// (a waiter's line has "->" in it and holds nothing).
bool fdinfo_locks_byte(const std::string& path, int64_t byte) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("lock:", 0) != 0 || line.find("->") != std::string::npos) continue;
        std::istringstream words(line);
        std::vector<std::string> w;
        for (std::string s; words >> s;) w.push_back(s);
        if (w.size() < 3) continue;
        auto start = parse_u64(w[w.size() - 2]);
        auto end = w.back() == "EOF" ? std::optional<uint64_t>(UINT64_MAX) : parse_u64(w.back());
        if (start && end && *start <= uint64_t(byte) && uint64_t(byte) <= *end) return true;
    }
    return false;
}

struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

// The one-line reason for a conflict on byte, and who causes it.
[[noreturn]] void refuse(int fd, const std::string& path, int64_t byte, bool unshared_test) {
    std::string who = image_lock_holders(fd, byte);
    if (who.empty()) who = "another process (QEMU or khyve)";
    int bit = int(byte - (unshared_test ? kLockPermBase : kLockSharedBase));
    if (unshared_test)
        throw Error(who + " holds the " + perm_name(bit) + " lock on " + path);
    throw Error(who + " has " + path + " open and does not share " + perm_name(bit) + " access to it");
}

}  // namespace

ImagePerms guest_disk_perms(bool read_only) {
    return {.held = read_only ? kConsistentRead : kConsistentRead | kWrite,
            .shared = kConsistentRead | kWriteUnchanged | kResize};
}

ImagePerms image_file_perms() { return {.held = kConsistentRead, .shared = kConsistentRead | kWriteUnchanged}; }

std::string image_lock_holders(int fd, int64_t byte) {
    struct stat want{};
    if (::fstat(fd, &want) < 0) return "";
    DirPtr proc(::opendir("/proc"));
    if (!proc) return "";
    const pid_t self = ::getpid();
    std::string out;
    while (dirent* p = ::readdir(proc.get())) {
        auto pid = parse_u64(p->d_name);
        if (!pid) continue;
        const std::string base = std::string("/proc/") + p->d_name;
        DirPtr fds(::opendir((base + "/fd").c_str()));
        if (!fds) continue;  // gone, or not ours to look at
        bool holds = false;
        while (!holds) {
            dirent* f = ::readdir(fds.get());
            if (!f) break;
            auto n = parse_u64(f->d_name);
            if (!n || (pid_t(*pid) == self && int(*n) == fd)) continue;
            struct stat st{};
            if (::fstatat(::dirfd(fds.get()), f->d_name, &st, 0) < 0) continue;
            if (st.st_dev != want.st_dev || st.st_ino != want.st_ino) continue;
            holds = fdinfo_locks_byte(base + "/fdinfo/" + f->d_name, byte);
        }
        if (!holds) continue;
        if (!out.empty()) out += ", ";
        const std::string comm = read_line(base + "/comm");
        if (pid_t(*pid) == self)
            out += "this process (pid " + std::string(p->d_name) + ", " + comm + ")";
        else
            out += "pid " + std::string(p->d_name) + " (" + comm + ")";
    }
    return out;
}

void lock_image(int fd, const std::string& path, const ImagePerms& p) {
    std::vector<int64_t> taken;
    auto release = [&] {
        for (int64_t b : taken) set_byte(fd, b, F_UNLCK);
    };
    auto take = [&](int64_t byte) {
        int err = set_byte(fd, byte, F_RDLCK);
        if (err == EAGAIN || err == EACCES) {
            // Only a write lock on the byte refuses a read lock; QEMU takes none.
            release();
            std::string who = image_lock_holders(fd, byte);
            throw Error(path + ": byte " + std::to_string(byte) + " is write-locked by " +
                        (who.empty() ? "another process" : who));
        }
        if (err) {
            release();
            throw sys_error(path + ": cannot take QEMU's image lock on byte " + std::to_string(byte) +
                                " (lock=off opens it without locks)",
                            err);
        }
        taken.push_back(byte);
    };
    for (int i = 0; i < kPermBits; ++i)
        if (p.held & (1ull << i)) take(kLockPermBase + i);
    for (int i = 0; i < kPermBits; ++i)
        if (!(p.shared & (1ull << i))) take(kLockSharedBase + i);

    // Someone holding what we do not share first: a second writer then hears
    // that another holds the write lock rather than that a reader refuses it.
    auto check = [&](int64_t byte, bool unshared_test) {
        int err = test_byte(fd, byte);
        if (!err) return;
        release();
        if (err != EAGAIN) throw sys_error(path + ": cannot test byte " + std::to_string(byte) + " for locks", err);
        refuse(fd, path, byte, unshared_test);
    };
    for (int i = 0; i < kPermBits; ++i)
        if (!(p.shared & (1ull << i))) check(kLockPermBase + i, true);
    for (int i = 0; i < kPermBits; ++i)
        if (p.held & (1ull << i)) check(kLockSharedBase + i, false);
}

}  // namespace khyve
