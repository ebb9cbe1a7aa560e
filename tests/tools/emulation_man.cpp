// Prints the manual pages' emulation sections from the PCI emulation table
// (src/platform/pci_emulation.h): `emulation_man bhyve.8` gives bhyve(8)'s
// PCI EMULATION list, `emulation_man bhyve_config.5` bhyve_config(5)'s PCI
// device variables. scripts/update-man.sh splices them into man/; ctest
// man.emulations fails when the committed pages differ from the table.
#include <cstdio>
#include <string>
#include <string_view>

#include "platform/pci_emulation.h"

namespace {

using namespace khyve;

// Plain text as mdoc body text: backslashes escaped, no line starting with a
// control character.
std::string text(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '\\') out += "\\e";
        else out += c;
    }
    if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
    return out;
}

std::string qualifiers(const PciEmulation& e, const EmulationOption& o) {
    std::string q(o.type);
    if (!o.required.empty()) q += ", required";
    if (o.name == e.positional) q += ", or the first bare word";
    return q;
}

void bhyve8() {
    std::printf(".Bl -tag -width \"amd_hostbridge\"\n");
    for (const auto* e : pci_emulations()) {
        std::printf(".It Cm %s\n%s\n", std::string(e->name).c_str(), text(e->description).c_str());
        if (e->options.empty()) continue;
        std::printf("Options:\n.Bl -tag -width 10n\n");
        for (const auto& o : e->options)
            std::printf(".It Cm %s Pq %s\n%s\n", std::string(o.name).c_str(), qualifiers(*e, o).c_str(),
                        text(o.help).c_str());
        std::printf(".El\n");
    }
    std::printf(".El\n");
}

void bhyve_config5() {
    for (const auto* e : pci_emulations()) {
        if (!e->make_pci && !e->make_virtio) continue;  // uart: not a PCI device node
        std::printf(".Ss %s\n%s\n", std::string(e->name).c_str(), text(e->description).c_str());
        if (e->options.empty()) {
            std::printf("No variables.\n");
            continue;
        }
        std::printf(".Bl -tag -width 4n\n");
        for (const auto& o : e->options)
            std::printf(".It Va %s Pq %s\n%s\n", std::string(o.name).c_str(), qualifiers(*e, o).c_str(),
                        text(o.help).c_str());
        std::printf(".El\n");
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string_view page = argc > 1 ? argv[1] : "";
    if (page == "bhyve.8") bhyve8();
    else if (page == "bhyve_config.5") bhyve_config5();
    else {
        std::fprintf(stderr, "usage: emulation_man bhyve.8|bhyve_config.5\n");
        return 4;
    }
    return 0;
}
