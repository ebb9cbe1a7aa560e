// Read-only access to a raw disk image for the boot scanner. Every read names
// an absolute byte range and fails (Error) unless it lies wholly inside the
// image: offsets and lengths come from hostile on-disk tables.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/fd.h"

namespace khyve::diskboot {

class ImageFile {
public:
    explicit ImageFile(const std::string& path);

    const std::string& path() const { return path_; }
    uint64_t size() const { return size_; }

    // True when [off, off+len) lies inside the image (overflow-safe).
    bool contains(uint64_t off, uint64_t len) const {
        return off <= size_ && len <= size_ - off;
    }
    std::vector<uint8_t> read(uint64_t off, size_t len) const;

private:
    std::string path_;
    Fd fd_;
    uint64_t size_ = 0;
};

}  // namespace khyve::diskboot
