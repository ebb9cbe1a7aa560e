#include "diskboot/image_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

namespace khyve::diskboot {

ImageFile::ImageFile(const std::string& path) : path_(path) {
    fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_.valid()) throw sys_error(path + ": cannot open the disk image");
    struct stat st{};
    if (::fstat(fd_.get(), &st) != 0) throw sys_error(path + ": cannot stat the disk image");
    if (S_ISREG(st.st_mode)) {
        size_ = uint64_t(st.st_size);
    } else {
        // Block devices report st_size 0; the end offset is their size.
        off_t end = ::lseek(fd_.get(), 0, SEEK_END);
        if (end < 0) throw sys_error(path + ": cannot size the disk image");
        size_ = uint64_t(end);
    }
}

std::vector<uint8_t> ImageFile::read(uint64_t off, size_t len) const {
    if (!contains(off, len))
        throw Error(path_ + ": read of " + std::to_string(len) + " bytes at offset " +
                    std::to_string(off) + " is past the end of the disk");
    std::vector<uint8_t> buf(len);
    size_t done = 0;
    while (done < len) {
        ssize_t n = ::pread(fd_.get(), buf.data() + done, len - done, off_t(off + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw sys_error(path_ + ": read error");
        }
        if (n == 0) throw Error(path_ + ": unexpected end of the disk image");
        done += size_t(n);
    }
    return buf;
}

}  // namespace khyve::diskboot
