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
