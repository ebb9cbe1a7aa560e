// The VM object: what `bhyveload` creates, `bhyve` runs and `bhyvectl
// --destroy` removes. On FreeBSD it is a kernel object under /dev/vmm; a KVM
// VM dies with its process, so here it is a directory that outlives it:
//
//   $KHYVE_VMM_DIR/NAME/     (default /dev/vmm/NAME, so `ls /dev/vmm` lists it)
//     mem       guest RAM, a sparse file: low memory, then high memory
//     vm.conf   lowmem=..., highmem=... (bytes)
//     boot      the boot CPU state bhyveload recorded (boot/boot_state.h)
//     lock      flock()ed by whichever process uses the VM right now
//     ctl       the control socket of a running bhyve (owner-only)
//
// The memory is kept after the guest exits until the object is destroyed.
// The directory of objects is a huge-page tmpfs when bhyveload created it
// (vm/ram_backing.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/mapping.h"
#include "memory/guest_memory.h"

namespace khyve {

class VmObject {
public:
    static std::string vmm_dir();                 // $KHYVE_VMM_DIR or /dev/vmm
    static void check_name(const std::string& name);  // throws Error on a bad name
    static bool exists(const std::string& name);
    static std::vector<std::string> list();

    // Creates NAME with the given memory, or re-initialises it when it exists
    // and no process uses it (bhyveload's behaviour). Holds the lock.
    static VmObject create_or_reinit(const std::string& name, uint64_t lowmem, uint64_t highmem);
    // Opens an existing NAME and takes its lock. Throws Error if it does not
    // exist or another process uses it.
    static VmObject open(const std::string& name);
    // Removes NAME. Throws Error if it does not exist or is locked.
    static void destroy(const std::string& name);

    const std::string& name() const { return name_; }
    std::string path() const;             // the object's directory
    std::string file(const char* leaf) const { return path() + "/" + leaf; }
    uint64_t lowmem() const { return lowmem_; }
    uint64_t highmem() const { return highmem_; }

    // Maps the RAM file (MAP_SHARED) and describes it as guest memory.
    GuestMemory map_memory();
    // The host mapping of each region, for KVM memory slots.
    const Mapping& low_mapping() const { return low_; }
    const Mapping& high_mapping() const { return high_; }

    void write_boot_state(const std::string& text) const;
    std::optional<std::string> read_boot_state() const;
    void consume_boot_state() const;

    VmObject(VmObject&&) = default;
    VmObject& operator=(VmObject&&) = default;

private:
    VmObject() = default;
    static Fd take_lock(const std::string& dir, const std::string& name, bool create = true);
    std::string name_;
    uint64_t lowmem_ = 0, highmem_ = 0;
    Fd lock_;
    Mapping low_, high_;
};

// vm.conf's contents: "lowmem=N" and "highmem=N" lines (bytes); other keys
// and lines without '=' are ignored. Throws Error naming `where` on a bad
// value, a missing or zero lowmem, or sizes create_or_reinit would refuse.
struct VmConf {
    uint64_t lowmem = 0, highmem = 0;
};
VmConf parse_vm_conf(const std::string& text, const std::string& where);

// The directory path for NAME (does not check existence).
std::string vm_path(const std::string& name);

}  // namespace khyve
