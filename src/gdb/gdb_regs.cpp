#include "gdb/gdb_regs.h"

#include <cstring>

#include "gdb/gdb_packet.h"

namespace khyve::gdb {

namespace {

std::vector<RegInfo> build_table() {
    std::vector<RegInfo> t;
    static const char* const gpr[16] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                                        "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    for (unsigned i = 0; i < 16; ++i) {
        const char* type = i == 6 || i == 7 ? "data_ptr" : "int64";
        t.push_back({gpr[i], 64, type, offsetof(GdbRegs, gpr) + 8 * i, false});
    }
    t.push_back({"rip", 64, "code_ptr", offsetof(GdbRegs, rip), false});
    t.push_back({"eflags", 32, "i386_eflags", offsetof(GdbRegs, eflags), false});
    static const char* const seg[6] = {"cs", "ss", "ds", "es", "fs", "gs"};
    for (unsigned i = 0; i < 6; ++i) t.push_back({seg[i], 32, "int32", offsetof(GdbRegs, seg) + 4 * i, false});
    static const char* const st[8] = {"st0", "st1", "st2", "st3", "st4", "st5", "st6", "st7"};
    for (unsigned i = 0; i < 8; ++i) t.push_back({st[i], 80, "i387_ext", offsetof(GdbRegs, st) + 10 * i, true});
    t.push_back({"fctrl", 32, "int", offsetof(GdbRegs, fctrl), true});
    t.push_back({"fstat", 32, "int", offsetof(GdbRegs, fstat), true});
    t.push_back({"ftag", 32, "int", offsetof(GdbRegs, ftag), true});
    t.push_back({"fiseg", 32, "int", offsetof(GdbRegs, fiseg), true});
    t.push_back({"fioff", 32, "int", offsetof(GdbRegs, fioff), true});
    t.push_back({"foseg", 32, "int", offsetof(GdbRegs, foseg), true});
    t.push_back({"fooff", 32, "int", offsetof(GdbRegs, fooff), true});
    t.push_back({"fop", 32, "int", offsetof(GdbRegs, fop), true});
    static const char* const xmm[16] = {"xmm0", "xmm1", "xmm2",  "xmm3",  "xmm4",  "xmm5",  "xmm6",  "xmm7",
                                        "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"};
    for (unsigned i = 0; i < 16; ++i) t.push_back({xmm[i], 128, "vec128", offsetof(GdbRegs, xmm) + 16 * i, true});
    t.push_back({"mxcsr", 32, "i386_mxcsr", offsetof(GdbRegs, mxcsr), true});
    t.push_back({"fs_base", 64, "int", offsetof(GdbRegs, fs_base), false});
    t.push_back({"gs_base", 64, "int", offsetof(GdbRegs, gs_base), false});
    t.push_back({"k_gs_base", 64, "int", offsetof(GdbRegs, k_gs_base), false});
    t.push_back({"cr0", 64, "int", offsetof(GdbRegs, cr0), false});
    t.push_back({"cr2", 64, "int", offsetof(GdbRegs, cr2), false});
    t.push_back({"cr3", 64, "int", offsetof(GdbRegs, cr3), false});
    t.push_back({"cr4", 64, "int", offsetof(GdbRegs, cr4), false});
    t.push_back({"cr8", 64, "int", offsetof(GdbRegs, cr8), false});
    t.push_back({"efer", 64, "int", offsetof(GdbRegs, efer), false});
    return t;
}

const std::vector<RegInfo>& table() {
    static const std::vector<RegInfo> t = build_table();
    return t;
}

bool available(const GdbRegs& r, const RegInfo& info) { return !info.fpu || r.fpu_valid; }

std::span<const uint8_t> bytes_of(const GdbRegs& r, const RegInfo& info) {
    return {reinterpret_cast<const uint8_t*>(&r) + info.offset, info.bits / 8};
}

void append_reg(std::string& out, const GdbRegs& r, const RegInfo& info) {
    if (available(r, info)) out += to_hex(bytes_of(r, info));
    else out.append(info.bits / 4, 'x');
}

void append_regs_xml(std::string& x, size_t from, size_t to) {
    const auto& t = table();
    for (size_t i = from; i < to; ++i) {
        x += "  <reg name=\"";
        x += t[i].name;
        x += "\" bitsize=\"" + std::to_string(t[i].bits) + "\" type=\"" + t[i].type + "\" regnum=\"" +
             std::to_string(i) + "\"";
        if (t[i].fpu && i < kRegXmm0) x += " group=\"float\"";
        if (i >= kRegXmm0 && i < kRegMxcsr) x += " group=\"vector\"";
        if (i >= kRegKGsBase) x += " group=\"system\"";
        x += "/>\n";
    }
}

std::string build_xml() {
    std::string x =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
        "<target version=\"1.0\">\n"
        "<architecture>i386:x86-64</architecture>\n"
        "<feature name=\"org.gnu.gdb.i386.core\">\n"
        "  <flags id=\"i386_eflags\" size=\"4\">\n"
        "    <field name=\"CF\" start=\"0\" end=\"0\"/>\n"
        "    <field name=\"\" start=\"1\" end=\"1\"/>\n"
        "    <field name=\"PF\" start=\"2\" end=\"2\"/>\n"
        "    <field name=\"AF\" start=\"4\" end=\"4\"/>\n"
        "    <field name=\"ZF\" start=\"6\" end=\"6\"/>\n"
        "    <field name=\"SF\" start=\"7\" end=\"7\"/>\n"
        "    <field name=\"TF\" start=\"8\" end=\"8\"/>\n"
        "    <field name=\"IF\" start=\"9\" end=\"9\"/>\n"
        "    <field name=\"DF\" start=\"10\" end=\"10\"/>\n"
        "    <field name=\"OF\" start=\"11\" end=\"11\"/>\n"
        "    <field name=\"NT\" start=\"14\" end=\"14\"/>\n"
        "    <field name=\"RF\" start=\"16\" end=\"16\"/>\n"
        "    <field name=\"VM\" start=\"17\" end=\"17\"/>\n"
        "    <field name=\"AC\" start=\"18\" end=\"18\"/>\n"
        "    <field name=\"VIF\" start=\"19\" end=\"19\"/>\n"
        "    <field name=\"VIP\" start=\"20\" end=\"20\"/>\n"
        "    <field name=\"ID\" start=\"21\" end=\"21\"/>\n"
        "  </flags>\n";
    append_regs_xml(x, 0, kRegXmm0);
    x += "</feature>\n"
         "<feature name=\"org.gnu.gdb.i386.sse\">\n"
         "  <vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>\n"
         "  <vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>\n"
         "  <vector id=\"v16i8\" type=\"int8\" count=\"16\"/>\n"
         "  <vector id=\"v8i16\" type=\"int16\" count=\"8\"/>\n"
         "  <vector id=\"v4i32\" type=\"int32\" count=\"4\"/>\n"
         "  <vector id=\"v2i64\" type=\"int64\" count=\"2\"/>\n"
         "  <union id=\"vec128\">\n"
         "    <field name=\"v4_float\" type=\"v4f\"/>\n"
         "    <field name=\"v2_double\" type=\"v2d\"/>\n"
         "    <field name=\"v16_int8\" type=\"v16i8\"/>\n"
         "    <field name=\"v8_int16\" type=\"v8i16\"/>\n"
         "    <field name=\"v4_int32\" type=\"v4i32\"/>\n"
         "    <field name=\"v2_int64\" type=\"v2i64\"/>\n"
         "    <field name=\"uint128\" type=\"uint128\"/>\n"
         "  </union>\n"
         "  <flags id=\"i386_mxcsr\" size=\"4\">\n"
         "    <field name=\"IE\" start=\"0\" end=\"0\"/>\n"
         "    <field name=\"DE\" start=\"1\" end=\"1\"/>\n"
         "    <field name=\"ZE\" start=\"2\" end=\"2\"/>\n"
         "    <field name=\"OE\" start=\"3\" end=\"3\"/>\n"
         "    <field name=\"UE\" start=\"4\" end=\"4\"/>\n"
         "    <field name=\"PE\" start=\"5\" end=\"5\"/>\n"
         "    <field name=\"DAZ\" start=\"6\" end=\"6\"/>\n"
         "    <field name=\"IM\" start=\"7\" end=\"7\"/>\n"
         "    <field name=\"DM\" start=\"8\" end=\"8\"/>\n"
         "    <field name=\"ZM\" start=\"9\" end=\"9\"/>\n"
         "    <field name=\"OM\" start=\"10\" end=\"10\"/>\n"
         "    <field name=\"UM\" start=\"11\" end=\"11\"/>\n"
         "    <field name=\"PM\" start=\"12\" end=\"12\"/>\n"
         "    <field name=\"FZ\" start=\"15\" end=\"15\"/>\n"
         "  </flags>\n";
    append_regs_xml(x, kRegXmm0, kRegFsBase);
    x += "</feature>\n<feature name=\"org.gnu.gdb.i386.segments\">\n";
    append_regs_xml(x, kRegFsBase, kRegKGsBase);
    // The system registers have no standard gdb feature; gdb shows registers
    // of an unknown feature as plain registers ($cr3, info registers cr3).
    x += "</feature>\n<feature name=\"org.khyve.x86.system\">\n";
    append_regs_xml(x, kRegKGsBase, kRegCount);
    x += "</feature>\n</target>\n";
    return x;
}

}  // namespace

std::span<const RegInfo> reg_table() { return table(); }

std::optional<std::string> reg_to_hex(const GdbRegs& r, unsigned regno) {
    if (regno >= table().size()) return std::nullopt;
    std::string s;
    append_reg(s, r, table()[regno]);
    return s;
}

bool reg_from_hex(GdbRegs& r, unsigned regno, std::string_view hex) {
    if (regno >= table().size()) return false;
    const RegInfo& info = table()[regno];
    if (!available(r, info) || hex.size() != info.bits / 4) return false;
    auto bytes = from_hex(hex);
    if (!bytes) return false;
    std::memcpy(reinterpret_cast<uint8_t*>(&r) + info.offset, bytes->data(), bytes->size());
    return true;
}

std::string regs_to_hex(const GdbRegs& r) {
    std::string s;
    for (const auto& info : table()) append_reg(s, r, info);
    return s;
}

bool regs_from_hex(GdbRegs& r, std::string_view hex) {
    size_t total = 0;
    for (const auto& info : table()) total += info.bits / 4;
    if (hex.size() != total) return false;
    GdbRegs next = r;
    size_t pos = 0;
    for (const auto& info : table()) {
        std::string_view part = hex.substr(pos, info.bits / 4);
        pos += part.size();
        if (part.find('x') != std::string_view::npos) continue;  // left as it is
        if (!available(next, info)) continue;
        auto bytes = from_hex(part);
        if (!bytes) return false;
        std::memcpy(reinterpret_cast<uint8_t*>(&next) + info.offset, bytes->data(), bytes->size());
    }
    r = next;
    return true;
}

const std::string& target_xml() {
    static const std::string x = build_xml();
    return x;
}

}  // namespace khyve::gdb
