#include "diskboot/loader_prompt.h"

#include <istream>
#include <map>
#include <optional>
#include <ostream>

#include "common/error.h"
#include "diskboot/text_lines.h"

namespace khyve::diskboot {
namespace {

constexpr size_t kMaxCommand = 4096;

// Guest-supplied text must not drive the operator's terminal.
std::string printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s) out += (c < 0x20 || c == 0x7f) ? '?' : char(c);
    return out;
}

class Prompt {
public:
    Prompt(const DiskBootChoice& choice, PromptIo& io) : choice_(choice), io_(io), selected_(choice.default_index) {
        if (selected_ >= choice_.entries.size()) selected_ = 0;
    }

    PromptOutcome run(int autoboot_seconds) {
        if (choice_.entries.empty()) {
            io_.out << "no boot entries\n";
            return {};
        }
        list_entries();
        if (io_.wait_key_1s && autoboot_seconds >= 0 && !countdown(autoboot_seconds)) return boot();
        std::string line;
        for (;;) {
            io_.out << "OK " << std::flush;
            if (!std::getline(io_.in, line)) {
                io_.out << "\n";
                return boot();
            }
            if (line.size() > kMaxCommand) {
                io_.out << "command too long\n";
                continue;
            }
            if (auto outcome = execute(trim(line))) return *outcome;
        }
    }

private:
    BootEntry effective() const {
        BootEntry e = choice_.entries[selected_];
        if (auto it = overrides_.find("kernel"); it != overrides_.end()) e.kernel_path = it->second;
        if (auto it = overrides_.find("initrd"); it != overrides_.end()) {
            e.initrd_path = it->second;
            e.extra_initrd_paths.clear();
        }
        if (auto it = overrides_.find("cmdline"); it != overrides_.end()) e.cmdline = it->second;
        return e;
    }

    PromptOutcome boot() {
        PromptOutcome o{true, effective()};
        io_.out << "Booting " << printable(o.entry.label) << "...\n";
        return o;
    }

    // True if a key interrupted the countdown.
    bool countdown(int seconds) {
        for (int left = seconds; left > 0; --left) {
            io_.out << "\rBooting [" << printable(choice_.entries[selected_].label) << "] in " << left
                    << " second" << (left == 1 ? "" : "s") << "... (any key for the OK prompt) " << std::flush;
            if (io_.wait_key_1s()) {
                io_.out << "\n";
                return true;
            }
        }
        io_.out << "\n";
        return false;
    }

    void list_entries() {
        for (size_t i = 0; i < choice_.entries.size(); ++i) {
            const auto& e = choice_.entries[i];
            io_.out << (i == selected_ ? " *" : "  ") << (i + 1) << ". " << printable(e.label) << " ("
                    << e.source << ", partition " << e.partition << ")\n";
        }
    }

    void show_var(const std::string& name) {
        BootEntry e = effective();
        if (name == "kernel") io_.out << "kernel=" << printable(e.kernel_path) << "\n";
        else if (name == "initrd") {
            std::string all = e.initrd_path;
            for (const auto& x : e.extra_initrd_paths) all += "," + x;
            io_.out << "initrd=" << printable(all) << "\n";
        } else if (name == "cmdline") io_.out << "cmdline=" << printable(e.cmdline) << "\n";
        else if (name == "entry") io_.out << "entry=" << (selected_ + 1) << "\n";
        else if (name == "partition") io_.out << "partition=" << e.partition << "\n";
        else io_.out << "unknown variable '" << printable(name) << "'\n";
    }

    std::optional<size_t> entry_index(const std::string& arg) {
        bool digits = !arg.empty() && arg.size() <= 6;
        for (char c : arg) digits = digits && c >= '0' && c <= '9';
        if (digits) {
            size_t n = std::stoul(arg);
            if (n >= 1 && n <= choice_.entries.size()) return n - 1;
        } else {
            for (size_t i = 0; i < choice_.entries.size(); ++i)
                if (choice_.entries[i].label == arg) return i;
        }
        io_.out << "no entry '" << printable(arg) << "' (1-" << choice_.entries.size() << ")\n";
        return std::nullopt;
    }

    std::optional<PromptOutcome> execute(const std::string& line) {
        std::string cmd, arg;
        split_keyword(line, cmd, arg);
        if (cmd.empty()) return std::nullopt;
        if (cmd == "boot") {
            if (!arg.empty()) {
                auto idx = entry_index(arg);
                if (!idx) return std::nullopt;
                selected_ = *idx;
            }
            return boot();
        }
        if (cmd == "quit" || cmd == "exit") {
            io_.out << "not booting\n";
            return PromptOutcome{};
        }
        if (cmd == "show") {
            if (!arg.empty()) {
                show_var(arg);
                return std::nullopt;
            }
            list_entries();
            for (const char* v : {"entry", "partition", "kernel", "initrd", "cmdline"}) show_var(v);
            return std::nullopt;
        }
        if (cmd == "set") {
            auto eq = arg.find('=');
            if (eq == std::string::npos || eq == 0) {
                io_.out << "usage: set var=value (kernel, initrd, cmdline, entry)\n";
                return std::nullopt;
            }
            std::string name = arg.substr(0, eq), value = arg.substr(eq + 1);
            if (name == "entry") {
                if (auto idx = entry_index(value)) selected_ = *idx;
            } else if (name == "kernel" || name == "initrd" || name == "cmdline") {
                overrides_[name] = value;
            } else {
                io_.out << "unknown variable '" << printable(name) << "'\n";
            }
            return std::nullopt;
        }
        if (cmd == "unset") {
            if (!overrides_.erase(arg)) io_.out << "'" << printable(arg) << "' is not set\n";
            return std::nullopt;
        }
        if (cmd == "ls") {
            if (!io_.list_dir) {
                io_.out << "ls is not available\n";
                return std::nullopt;
            }
            try {
                for (const auto& name : io_.list_dir(effective().partition, arg.empty() ? "/" : arg))
                    io_.out << "  " << printable(name) << "\n";
            } catch (const Error& e) {
                io_.out << printable(e.what()) << "\n";
            }
            return std::nullopt;
        }
        if (cmd == "help" || cmd == "?") {
            io_.out << "boot [n|label], ls [path], show [var], set var=value, unset var, quit\n";
            return std::nullopt;
        }
        io_.out << "unknown command '" << printable(cmd) << "'; try help\n";
        return std::nullopt;
    }

    const DiskBootChoice& choice_;
    PromptIo& io_;
    size_t selected_;
    std::map<std::string, std::string> overrides_;
};

}  // namespace

PromptOutcome run_loader_prompt(const DiskBootChoice& choice, PromptIo io, int autoboot_seconds) {
    return Prompt(choice, io).run(autoboot_seconds);
}

}  // namespace khyve::diskboot
