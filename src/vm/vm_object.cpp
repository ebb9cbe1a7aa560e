#include "vm/vm_object.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/size.h"
#include "config/vm_name.h"
#include "platform/layout.h"
#include "vm/ram_backing.h"

namespace khyve {

namespace {

std::string read_small_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw sys_error("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file_atomic(const std::string& path, const std::string& text) {
    std::string tmp = path + ".new";
    {
        std::ofstream out(tmp, std::ios::trunc);
        if (!out) throw sys_error("cannot write " + tmp);
        out << text;
        if (!out.flush()) throw sys_error("cannot write " + tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) throw sys_error("cannot rename " + tmp);
}

void ensure_dir(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST)
        throw sys_error("cannot create " + dir);
}

// Maps len bytes of fd from off at a 2 MiB-aligned address, so that the
// kernel (and KVM behind it) can use huge pages for them wherever the file
// has them.
Mapping map_aligned(int fd, uint64_t off, uint64_t len) {
    constexpr uint64_t kAlign = 2ull << 20;
    void* area = ::mmap(nullptr, len + kAlign, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (area == MAP_FAILED) throw sys_error("cannot map guest memory");
    const uintptr_t start = reinterpret_cast<uintptr_t>(area);
    const uintptr_t aligned = (start + kAlign - 1) & ~(kAlign - 1);
    void* p = ::mmap(reinterpret_cast<void*>(aligned), len, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd, off_t(off));
    if (p == MAP_FAILED) {
        int err = errno;
        ::munmap(area, len + kAlign);
        errno = err;
        throw sys_error("cannot map guest memory");
    }
    if (aligned > start) ::munmap(area, aligned - start);
    const uintptr_t end = aligned + len, area_end = start + len + kAlign;
    if (area_end > end) ::munmap(reinterpret_cast<void*>(end), area_end - end);
    // Huge pages where the file system only gives them on request
    // (shmem_enabled=advise); a no-op on a huge= tmpfs and elsewhere.
    ::madvise(p, len, MADV_HUGEPAGE);
    ::madvise(p, len, MADV_MERGEABLE);
    return Mapping(p, len);
}

}  // namespace

std::string VmObject::vmm_dir() {
    const char* d = std::getenv("KHYVE_VMM_DIR");
    return d && *d ? d : "/dev/vmm";
}

std::string vm_path(const std::string& name) { return VmObject::vmm_dir() + "/" + name; }

std::string VmObject::path() const { return vm_path(name_); }

void VmObject::check_name(const std::string& name) { check_vm_name(name); }

bool VmObject::exists(const std::string& name) {
    struct stat st;
    return ::stat((vm_path(name) + "/vm.conf").c_str(), &st) == 0;
}

std::vector<std::string> VmObject::list() {
    std::vector<std::string> names;
    DIR* d = ::opendir(vmm_dir().c_str());
    if (!d) return names;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != ".." && exists(n)) names.push_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

Fd VmObject::take_lock(const std::string& dir, const std::string& name, bool create) {
    // flock() works on a read-only descriptor: destroy needs no write access
    // (and the sandboxed bhyve main thread may only open read-only).
    Fd fd(create ? ::open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)
                 : ::open((dir + "/lock").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) throw sys_error("cannot open the lock of VM " + name);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) throw Error("VM " + name + " is in use by another process");
        throw sys_error("cannot lock VM " + name);
    }
    return fd;
}

VmObject VmObject::create_or_reinit(const std::string& name, uint64_t lowmem, uint64_t highmem) {
    check_name(name);
    const uint64_t page = 4096;
    if (lowmem == 0 || lowmem % page || highmem % page)
        throw Error("guest memory must be a non-zero multiple of 4 KiB");
    if (lowmem > layout::kLowMemLimit)
        throw Error("low memory is limited to 3 GiB; give the rest with -M");
    std::string top = vmm_dir();
    // Only a directory made just now is ours to mount on: never one the
    // user made, nor one that already holds VM objects.
    if (::mkdir(top.c_str(), 0700) == 0)
        ram_backing::mount_huge(top);
    else if (errno != EEXIST)
        throw sys_error("cannot create " + top + " (set KHYVE_VMM_DIR to a writable directory)");
    VmObject vm;
    vm.name_ = name;
    std::string dir = vm.path();
    bool fresh = !exists(name);
    ensure_dir(dir);
    try {
        vm.lock_ = take_lock(dir, name);
        vm.lowmem_ = lowmem;
        vm.highmem_ = highmem;
        std::string mem = dir + "/mem";
        Fd fd(::open(mem.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        if (!fd.valid()) throw sys_error("cannot create " + mem);
        // Re-initialising drops every page: the guest starts from zeroed RAM.
        if (::ftruncate(fd.get(), 0) < 0 || ::ftruncate(fd.get(), off_t(lowmem + highmem)) < 0)
            throw sys_error("cannot size " + mem);
        std::ostringstream conf;
        conf << "lowmem=" << lowmem << "\nhighmem=" << highmem << "\n";
        ::unlink((dir + "/boot").c_str());
        write_file_atomic(dir + "/vm.conf", conf.str());
    } catch (...) {
        if (fresh) {
            for (const char* leaf : {"mem", "vm.conf", "vm.conf.new", "boot", "lock"})
                ::unlink((dir + "/" + leaf).c_str());
            ::rmdir(dir.c_str());
        }
        throw;
    }
    return vm;
}

VmObject VmObject::open(const std::string& name) {
    check_name(name);
    if (!exists(name))
        throw Error("VM " + name + " does not exist (create it with bhyveload)");
    VmObject vm;
    vm.name_ = name;
    vm.lock_ = take_lock(vm.path(), name);
    VmConf conf = parse_vm_conf(read_small_file(vm.file("vm.conf")), vm.file("vm.conf"));
    vm.lowmem_ = conf.lowmem;
    vm.highmem_ = conf.highmem;
    return vm;
}

VmConf parse_vm_conf(const std::string& text, const std::string& where) {
    VmConf conf;
    std::istringstream in(text);
    std::string line;
    bool have_low = false;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        auto v = parse_u64(line.substr(eq + 1));
        if (!v) throw Error(where + ": bad value in '" + line + "'");
        std::string key = line.substr(0, eq);
        if (key == "lowmem") {
            conf.lowmem = *v;
            have_low = true;
        } else if (key == "highmem") {
            conf.highmem = *v;
        }
    }
    if (!have_low || conf.lowmem == 0) throw Error(where + ": no lowmem");
    // What create_or_reinit accepts, and so all bhyveload ever writes: a
    // damaged file must not put RAM over the MMIO hole or wrap the size check.
    if (conf.lowmem % 4096 || conf.highmem % 4096 || conf.lowmem > layout::kLowMemLimit ||
        conf.highmem > UINT64_MAX - conf.lowmem)
        throw Error(where + ": memory sizes bhyveload would not write (re-create the VM)");
    return conf;
}

void VmObject::destroy(const std::string& name) {
    check_name(name);
    std::string dir = vm_path(name);
    if (!exists(name)) throw Error("VM " + name + " does not exist");
    Fd lock = take_lock(dir, name, /*create=*/false);
    for (const char* leaf : {"mem", "vm.conf", "vm.conf.new", "boot", "boot.new", "ctl", "lock"})
        ::unlink((dir + "/" + leaf).c_str());
    if (::rmdir(dir.c_str()) < 0) throw sys_error("cannot remove " + dir);
}

GuestMemory VmObject::map_memory() {
    Fd fd(::open(file("mem").c_str(), O_RDWR | O_CLOEXEC));
    if (!fd.valid()) throw sys_error("cannot open " + file("mem"));
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) throw sys_error("fstat " + file("mem"));
    if (uint64_t(st.st_size) != lowmem_ + highmem_)
        throw Error(file("mem") + " has the wrong size; re-create the VM with bhyveload");
    auto map = [&](uint64_t off, uint64_t len) { return map_aligned(fd.get(), off, len); };
    GuestMemory mem;
    low_ = map(0, lowmem_);
    mem.add_region(0, lowmem_, low_.data());
    if (highmem_) {
        high_ = map(lowmem_, highmem_);
        mem.add_region(layout::kHighMemBase, highmem_, high_.data());
    }
    return mem;
}

void VmObject::write_boot_state(const std::string& text) const {
    write_file_atomic(file("boot"), text);
}

void VmObject::consume_boot_state() const { ::unlink(file("boot").c_str()); }

std::optional<std::string> VmObject::read_boot_state() const {
    struct stat st;
    if (::stat(file("boot").c_str(), &st) < 0) return std::nullopt;
    return read_small_file(file("boot"));
}

}  // namespace khyve
