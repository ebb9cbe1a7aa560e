// BootState::parse on arbitrary text: Error or a state that serializes back
// to text that parses to the same state.
#include "boot/boot_state.h"
#include "common/error.h"

using namespace khyve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    BootState st;
    try {
        st = BootState::parse(text);
    } catch (const Error&) {
        return 0;
    }
    BootState again = BootState::parse(st.serialize());  // must not throw
    if (!(again == st)) __builtin_trap();
    return 0;
}
