// What a thread does with an error it cannot handle: it hands the message to
// a FailureSink, which stops the machine with it (bhyve prints one line and
// exits 4), instead of letting it escape the thread (std::terminate).
#pragma once

#include <exception>
#include <functional>
#include <string>

namespace khyve {

using FailureSink = std::function<void(const std::string& message)>;

// Runs body; whatever escapes it reaches sink as "who: what". Never throws.
template <class Body>
void run_guarded(const std::string& who, const FailureSink& sink, Body&& body) noexcept {
    std::string message;
    try {
        body();
        return;
    } catch (const std::exception& e) {
        message = who + ": " + e.what();
    } catch (...) {
        message = who + ": unknown exception";
    }
    try {
        sink(message);
    } catch (...) {
    }
}

}  // namespace khyve
