// Reading a kernel or initrd from the host into memory for the loader.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace khyve {

// The whole of a regular file, read with one fstat() and large read()s:
// bhyveload's boot path (a stream iterator costs several times more per
// byte, which a nested or emulated host multiplies). Throws Error naming
// what ("kernel", "initrd") and path when the file cannot be read.
std::vector<uint8_t> read_boot_file(const std::string& path, const char* what);

}  // namespace khyve
