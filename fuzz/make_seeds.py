#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/corpus/<target>/ (small files).
Re-run after changing a target's input format; libFuzzer grows the corpus
from these during a run (scripts/fuzz.sh keeps its growth out of git)."""
import os, random, struct

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(1234)

def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def rand(n):
    return bytes(rng.randrange(256) for _ in range(n))

# Binary-driven targets (FuzzedDataProvider): a few random and patterned inputs.
for t in ["fuzz_virtqueue", "fuzz_virtio_blk", "fuzz_virtio_net_hdr", "fuzz_uart", "fuzz_pci_config"]:
    put(t, "zeros", bytes(256))
    put(t, "ones", b"\xff" * 256)
    for i, n in enumerate([64, 512, 2048]):
        put(t, "random%d" % i, rand(n))

def bzimage(setup_sects=4, payload=0x3000, version=0x020F):
    setup = (setup_sects + 1) * 512
    b = bytearray(setup + payload)
    b[0x1F1] = setup_sects
    struct.pack_into("<I", b, 0x1F4, payload // 16)
    struct.pack_into("<H", b, 0x1FE, 0xAA55)
    b[0x200], b[0x201] = 0xEB, 0x6A
    struct.pack_into("<I", b, 0x202, 0x53726448)  # "HdrS"
    struct.pack_into("<H", b, 0x206, version)
    b[0x211] = 0x01                               # LOADED_HIGH
    struct.pack_into("<I", b, 0x22C, 0x7FFFFFFF)  # initrd_addr_max
    struct.pack_into("<I", b, 0x230, 0x200000)    # kernel_alignment
    b[0x234] = 1
    struct.pack_into("<H", b, 0x236, 0x03)        # XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G
    struct.pack_into("<I", b, 0x238, 2047)
    struct.pack_into("<Q", b, 0x258, 0x1000000)
    struct.pack_into("<I", b, 0x260, 0x800000)
    for i in range(payload):
        b[setup + i] = (i * 7 + 3) & 0xFF
    return bytes(b)

def elf64(paddr=0x1000000, memsz=0x2000, filesz=0x100):
    ehdr = bytearray(64)
    ehdr[0:4] = b"\x7fELF"
    ehdr[4], ehdr[5], ehdr[6] = 2, 1, 1           # 64-bit, little-endian, version
    struct.pack_into("<HHIQQQIHHHHHH", ehdr, 16, 2, 62, 1, paddr, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0x1000, paddr, paddr, filesz, memsz, 0x1000)
    body = bytes(ehdr) + phdr
    body += bytes(0x1000 - len(body)) + bytes((i * 13) & 0xFF for i in range(filesz))
    return body

# fuzz_boot_loader: cmdline string (ends at "\\x"), kernel bytes, then the
# trailing integral bytes (read from the end): 8 zeros = 32 MiB, no highmem,
# no initrd.
put("fuzz_boot_loader", "bzimage", b"console=ttyS0\\x" + bzimage() + bytes(8))
put("fuzz_boot_loader", "bzimage_old_protocol", b"ro\\x" + bzimage(version=0x0205, payload=0x400) + bytes(8))
put("fuzz_boot_loader", "elf", b"init=/bin/sh\\x" + elf64() + bytes(8))
put("fuzz_boot_loader", "empty", bytes(8))

state = ("rip=0x1000200\nrsi=0x7000\nrsp=0x8ff0\ncr0=0x80050033\ncr3=0x9000\ncr4=0x20\n"
         "efer=0x500\ngdt_base=0x500\ngdt_limit=0x1f\ncode_selector=0x10\ndata_selector=0x18\n")
put("fuzz_boot_state", "valid", state.encode())
put("fuzz_boot_state", "comments", ("# from bhyveload\n\n" + state).encode())
put("fuzz_boot_state", "missing_key", state.replace("rsp=0x8ff0\n", "").encode())

for name, line in [
    ("status", '{"version":1,"command":"status"}'),
    ("regs", '{"version":1,"command":"regs","vcpu":1}'),
    ("stats", '{"version":1,"command":"stats"}'),
    ("bad_version", '{"version":2,"command":"status"}'),
    ("not_object", '[1,2,3]'),
    ("unknown", '{"version":1,"command":"frobnicate"}'),
]:
    put("fuzz_control", name, line.encode())

def argv(*a):
    return b"\0".join(x.encode() for x in a)

put("fuzz_bhyve_args", "typical", argv("-c", "2", "-m", "256M", "-A", "-H", "-P", "-s", "0,hostbridge",
                                       "-s", "31,lpc", "-l", "com1,stdio", "-s", "2,virtio-blk,/tmp/disk.img",
                                       "vm1"))
put("fuzz_bhyve_args", "options", argv("-o", "khyve.seccomp=false", "-o", "pci.0.3.0.device=virtio-net",
                                       "-o", "pci.0.3.0.backend=tap0", "-c", "sockets=1,cores=2,threads=1",
                                       "-U", "12345678-1234-1234-1234-123456789abc", "vm2"))
put("fuzz_bhyve_args", "help", argv("-s", "help"))

put("fuzz_config_file", "typical", b"# khyve\nname=vm1\ncpus=2\nmemory.size=512M\n"
    b"pci.0.0.0.device=hostbridge\npci.0.2.0.device=virtio-blk\npci.0.2.0.path=/tmp/d.img\n"
    b"lpc.com1.path=stdio\nkhyve.seccomp=true\n")
put("fuzz_config_file", "expand", b"disk=/tmp/x.img\npci.0.2.0.device=virtio-blk\npci.0.2.0.path=%(disk)\nname=v\n")
put("fuzz_config_file", "bad", b"=nokey\n")

# fuzz_partition_table: tail bytes, head bytes, then the integral values read
# from the end (first read = last bytes): sectors (3 bytes), odd byte count
# (2), odd flag (1), CRC fix-up (1: 0 none, 1 for 512-byte, 2 for 4 KiB
# sectors), tail length (3).
import zlib

def trailer(*vals):
    """vals: (value, nbytes) in consumption order; returns the file tail."""
    out = b""
    for v, n in vals:
        out = bytes((v >> (8 * i)) & 0xFF for i in range(n)) + out
    return out

def disk_seed(head, tail=b"", sectors=32768, fix=0, odd=0):
    return tail + head + trailer((sectors, 3), (odd, 2), (1 if odd else 0, 1), (fix, 1), (len(tail), 3))

def mbr_entry(boot, ptype, start, count):
    return struct.pack("<B3sB3sII", boot, b"\0\0\0", ptype, b"\0\0\0", start, count)

def mbr(entries):
    s = bytearray(512)
    for i, e in enumerate(entries):
        s[446 + 16 * i:462 + 16 * i] = e
    s[510], s[511] = 0x55, 0xAA
    return s

head = bytearray(96 * 512)
head[0:512] = mbr([mbr_entry(0x80, 0x83, 2048, 8192), mbr_entry(0, 0x82, 10240, 2048),
                   mbr_entry(0, 0x05, 64, 16384)])
# Logicals: EBR at 64 -> partition at 64+16, next EBR at 64+32 -> partition at 96+16.
head[64 * 512:65 * 512] = mbr([mbr_entry(0, 0x83, 16, 8), mbr_entry(0, 0x05, 32, 64)])
head[96 * 512:] = b""
ebr2 = mbr([mbr_entry(0, 0x83, 16, 32)])
put("fuzz_partition_table", "mbr_logicals", disk_seed(bytes(head) + bytes(ebr2)))
loop = bytearray(head)
loop[64 * 512:65 * 512] = mbr([mbr_entry(0, 0x83, 16, 8), mbr_entry(0, 0x05, 0, 64)])  # points at itself
put("fuzz_partition_table", "mbr_ebr_loop", disk_seed(bytes(loop)))
put("fuzz_partition_table", "mbr_past_end", disk_seed(bytes(mbr([mbr_entry(0, 0x83, 2048, 1 << 30)]))))
put("fuzz_partition_table", "whole_disk", disk_seed(bytes(1024)))
put("fuzz_partition_table", "tiny", disk_seed(b"", sectors=0, odd=100))

def guid_bytes(text):
    h = text.replace("-", "")
    b = bytes.fromhex(h)
    return b[3::-1] + b[5:3:-1] + b[7:5:-1] + b[8:]

def gpt(ss, sectors, parts, backup=False):
    """Header (one sector) and entry array for a disk of `sectors` sectors."""
    count, esize = 128, 128
    arr = bytearray(count * esize)
    for i, (tguid, first, last) in enumerate(parts):
        e = guid_bytes(tguid) + bytes(range(16)) + struct.pack("<QQQ", first, last, 0)
        arr[i * esize:i * esize + len(e)] = e
    arr_sectors = (len(arr) + ss - 1) // ss
    my_lba, alt_lba = (sectors - 1, 1) if backup else (1, sectors - 1)
    array_lba = sectors - 1 - arr_sectors if backup else 2
    first_usable, last_usable = 2 + arr_sectors, sectors - 2 - arr_sectors
    h = bytearray(92)
    struct.pack_into("<8sIIIIQQQQ16sQIII", h, 0, b"EFI PART", 0x10000, 92, 0, 0, my_lba, alt_lba,
                     first_usable, last_usable, bytes(range(16, 32)), array_lba, count, esize,
                     zlib.crc32(arr) & 0xFFFFFFFF)
    struct.pack_into("<I", h, 16, zlib.crc32(h) & 0xFFFFFFFF)
    return bytes(h) + bytes(ss - 92), bytes(arr)

LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
for ss, fix in [(512, 0), (4096, 0)]:
    sectors512 = 32768
    n = sectors512 * 512 // ss
    parts = [(ESP, 40 if ss == 512 else 6, 2047 if ss == 512 else 255), (LINUX, 2048 if ss == 512 else 256, n - 100)]
    pmbr = mbr([mbr_entry(0, 0xEE, 1, 0xFFFFFFFF)])
    hdr, arr = gpt(ss, n, parts)
    head = bytes(pmbr) + bytes(ss - 512) + hdr + arr
    bhdr, barr = gpt(ss, n, parts, backup=True)
    tail = barr + bhdr
    put("fuzz_partition_table", "gpt%d" % ss, disk_seed(head, tail=tail, sectors=sectors512))
    # Primary damaged: the backup must be used.
    bad = bytearray(head)
    bad[ss + 40] ^= 0xFF
    put("fuzz_partition_table", "gpt%d_backup" % ss, disk_seed(bytes(bad), tail=tail, sectors=sectors512))
    # CRCs left for the harness to fix (fix=1/2), with a huge entry count.
    huge = bytearray(head)
    struct.pack_into("<I", huge, ss + 80, 0x7FFFFFFF)
    put("fuzz_partition_table", "gpt%d_fixcrc_huge" % ss,
        disk_seed(bytes(huge), sectors=sectors512, fix=1 if ss == 512 else 2))

# fuzz_boot_config: the last byte picks the parser (0 syslinux, 1 BLS, 2
# loader prompt). BLS: entry count byte before it, then name\\n text\\n pairs
# and loader.conf; prompt: a bool byte before the selector.
put("fuzz_boot_config", "extlinux", b"""DEFAULT debian
TIMEOUT 50
MENU TITLE Boot
APPEND console=ttyS0
LABEL debian
  MENU LABEL Debian GNU/Linux
  KERNEL /boot/vmlinuz-6.1
  INITRD /boot/ucode.img,/boot/initrd.img-6.1
  APPEND root=/dev/vda1 ro quiet
LABEL rescue
  MENU DEFAULT
  LINUX ../vmlinuz
  APPEND initrd=/initrd.img single
LABEL chain
  COM32 chain.c32
LABEL local
  LOCALBOOT 0
""" + b"\x00")
put("fuzz_boot_config", "bls", b"fedora-6.5.conf\\ntitle Fedora 6.5\nversion 6.5.0\nmachine-id abc\nsort-key fedora\n"
    b"linux /vmlinuz-6.5\ninitrd /initramfs-6.5.img\ninitrd /ucode\noptions root=/dev/vda2 ro\n\\n"
    b"fedora-6.4.conf\\ntitle Fedora 6.4\nversion 6.4.10\nlinux /vmlinuz-6.4\narchitecture x64\n\\n"
    b"efi.conf\\ntitle EFI shell\nefi /shell.efi\n\\n"
    b"default fedora-6.4*\ntimeout 3\n" + bytes([3, 1]))
put("fuzz_boot_config", "prompt", b"show\nls /boot\nset entry=2\nset cmdline=init=/bin/sh\nunset kernel\n"
    b"boot rescue\x1b[2J\nhelp\nboot 9\nboot 1\n" + bytes([0, 2]))
put("fuzz_boot_config", "prompt_quit", b"ls\nquit\n" + bytes([1, 2]))

# Device register sequences (FuzzedDataProvider): random and patterned bytes.
for t in ["fuzz_acpi_pm", "fuzz_rtc_cmos", "fuzz_i8042", "fuzz_exit_dispatch", "fuzz_virtio_console"]:
    put(t, "zeros", bytes(256))
    put(t, "ones", b"\xff" * 256)
    for i, n in enumerate([64, 512, 2048]):
        put(t, "random%d" % i, rand(n))

# fuzz_control: the real handler's commands, good and bad arguments.
for name, line in [
    ("stats_prometheus", '{"version":1,"command":"stats","format":"prometheus"}'),
    ("stats_bad_format", '{"version":1,"command":"stats","format":7}'),
    ("regs_bad_vcpu", '{"version":1,"command":"regs","vcpu":9}'),
    ("regs_negative", '{"version":1,"command":"regs","vcpu":-1}'),
    ("poweroff", '{"version":1,"command":"poweroff"}'),
    ("destroy", '{"version":1,"command":"destroy"}'),
    ("no_command", '{"version":1}'),
]:
    put("fuzz_control", name, line.encode())

put("fuzz_vm_conf", "bhyveload", b"lowmem=268435456\nhighmem=0\n")
put("fuzz_vm_conf", "high", b"lowmem=3221225472\nhighmem=1073741824\n")
put("fuzz_vm_conf", "hex", b"# edited\nlowmem=0x10000000\nother=1\nhighmem=0x0\n")
put("fuzz_vm_conf", "no_lowmem", b"highmem=4096\n")

# fuzz_gdb: newline-separated packet payloads, as a gdb session sends them.
put("fuzz_gdb", "session", b"\n".join([
    b"qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386", b"QStartNoAckMode", b"Hg0", b"?",
    b"qfThreadInfo", b"qsThreadInfo", b"g", b"p10", b"m0,40", b"M100,4:deadbeef", b"X200,2:ab",
    b"Z0,300,1", b"Z1,400,1", b"Z2,500,4", b"c", b"z0,300,1", b"vCont?", b"vCont;s:1", b"Hg2",
    b"P10=0000000000000000", b"qXfer:features:read:target.xml:0,fff", b"D"]))
put("fuzz_gdb", "breakpoints", b"\n".join([b"Z0,10,1", b"M8,10:cccccccccccccccccccccccccccccccc", b"Z0,12,1",
                                           b"z0,10,1", b"mffffffff81000000,10", b"Z0,ffffffff81000004,1", b"c",
                                           b"\x02", b"s", b"k"]))
put("fuzz_gdb", "raw", b"\x01+$g#67-\x03$m0,4#fd$bad#00")

# fuzz_ext_fs: the base images (fuzz/ext_fs/*.img, made here with mke2fs -d
# from a small tree with a kernel, symlinks and extlinux.conf), and inputs
# that pick one and patch a few bytes (consumed from the end: image, count,
# then offset/byte pairs).
import shutil, subprocess, tempfile

def ext_images():
    out = os.path.join(HERE, "ext_fs")
    if not shutil.which("mke2fs"):
        print("make_seeds: no mke2fs, fuzz/ext_fs/ left as it is")
        return
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        for d in ["boot/extlinux", "etc", "boot/loader/entries"]:
            os.makedirs(os.path.join(root, d))
        with open(os.path.join(root, "boot/vmlinuz-6.1"), "wb") as f:
            f.write(bzimage(payload=0x1000))
        with open(os.path.join(root, "boot/initrd.img-6.1"), "wb") as f:
            f.write(b"initrd")
        with open(os.path.join(root, "boot/extlinux/extlinux.conf"), "w") as f:
            f.write("DEFAULT l\nLABEL l\n KERNEL /boot/vmlinuz\n INITRD ../initrd.img-6.1\n")
        with open(os.path.join(root, "boot/loader/entries/a.conf"), "w") as f:
            f.write("title A\nlinux /boot/vmlinuz\n")
        os.symlink("vmlinuz-6.1", os.path.join(root, "boot/vmlinuz"))
        os.symlink("/boot/extlinux/extlinux.conf", os.path.join(root, "extlinux.conf"))
        os.symlink("loop", os.path.join(root, "loop"))
        os.symlink("x" * 100 + "/../boot", os.path.join(root, "slowlink"))
        for i in range(18):
            with open(os.path.join(root, "etc/f%d" % i), "w") as f:
                f.write("%d\n" % i)
        for t in [root] + [os.path.join(dp, n) for dp, dn, fn in os.walk(root) for n in dn + fn]:
            os.utime(t, (1700000000, 1700000000), follow_symlinks=False)
        env = dict(os.environ, E2FSPROGS_FAKE_TIME="1700000000")
        ids = ["-U", "11111111-2222-3333-4444-555555555555", "-E", "hash_seed=11111111-2222-3333-4444-555555555555"]
        for name, opts in [("ext4", ["-t", "ext4", "-O", "^metadata_csum,^has_journal"]),
                           ("ext4csum", ["-t", "ext4", "-O", "metadata_csum,^has_journal"]),
                           ("ext4inline", ["-t", "ext4", "-O", "inline_data,^metadata_csum,^has_journal"]),
                           ("ext2", ["-t", "ext2"])]:
            img = os.path.join(out, name + ".img")
            if os.path.exists(img):
                os.unlink(img)
            subprocess.run(["mke2fs", "-q", "-F"] + opts + ["-N", "64"] + ids + ["-d", root, img, "256K"],
                           check=True, env=env, stdout=subprocess.DEVNULL)

ext_images()
for i in range(4):
    put("fuzz_ext_fs", "image%d" % i, bytes([0, i]))  # no patches, image i
# Patches near the superblock (1024) and the first inodes.
put("fuzz_ext_fs", "patched", rand(120) + bytes([8, 0]))
put("fuzz_ext_fs", "paths", b"/boot/loader/entries/a.conf\x00/slowlink/vmlinuz\x00/etc/f3" + bytes([0, 0]))

# fuzz_qcow2: small images made by qemu-img/qemu-io (4 KiB and 512-byte
# clusters, a few written, zero and compressed clusters, a backing name).
def qcow2_seeds():
    if not shutil.which("qemu-img") or not shutil.which("qemu-io"):
        print("make_seeds: no qemu-img/qemu-io, fuzz_qcow2 seeds left as they are")
        return
    with tempfile.TemporaryDirectory() as tmp:
        def make(name, create, io=(), compress=False):
            img = os.path.join(tmp, name)
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2"] + create + [img, "1M"], check=True)
            for cmd in io:
                subprocess.run(["qemu-io", "-f", "qcow2", "-c", cmd, img], check=True, stdout=subprocess.DEVNULL)
            if compress:
                out = img + ".c"
                subprocess.run(["qemu-img", "convert", "-c", "-O", "qcow2", "-o", "cluster_size=4096", img, out],
                               check=True)
                img = out
            with open(img, "rb") as f:
                put("fuzz_qcow2", name, f.read())
        make("v3_4k", ["-o", "cluster_size=4096"], ["write -P 0xab 0 8k", "write -z 64k 4k"])
        make("v2_512", ["-o", "cluster_size=512,compat=0.10"], ["write -P 0x11 4096 2k"])
        make("compressed", ["-o", "cluster_size=4096"], ["write -P 0x5a 0 16k"], compress=True)
        make("zstd", ["-o", "cluster_size=4096,compression_type=zstd"], ["write -c -P 0x77 0 4k"])
        with open(os.path.join(tmp, "base.raw"), "wb") as f:
            f.truncate(1 << 20)
        make("backing", ["-o", "cluster_size=4096", "-F", "raw", "-b", "base.raw"], ["write -P 1 8k 4k"])

qcow2_seeds()
