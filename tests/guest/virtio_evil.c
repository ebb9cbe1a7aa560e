/*
 * A hostile virtio driver that runs inside a Linux guest as root
 * (testhost/scenarios/evil_guest.sh, guest script evil.sh).
 *
 *   khyve_guest_evil blk|net RING_GPA
 *
 * It takes the first virtio-blk (0x1042) or virtio-net (0x1041) PCI function
 * away from the kernel's driver, maps its modern BAR through sysfs and drives
 * the device from reset with rings and buffers in RING_GPA: 2 MiB of guest
 * RAM the kernel does not own (booted with memmap=2M$RING_GPA, so the E820
 * map calls it reserved and /dev/mem may map it despite STRICT_DEVMEM).
 * Each case submits something malformed and checks the device's answer:
 * DEVICE_NEEDS_RESET (0x40) in device_status, or VIRTIO_BLK_S_IOERR for
 * well-formed requests with bad sector arithmetic; after each, a reset and
 * an honest request must work again. Markers: "KHYVE-PASS: evil-<case>" and
 * "KHYVE-FAIL: evil-<case>: <why>". Exit status: the number of failures.
 *
 * It knows khyve's BAR layout (virtio_pci.h: common config at 0, ISR at
 * 0x1000, notify at 0x3000 with multiplier 4); the capability list says
 * the same and a real driver would read it, but this program only tests
 * khyve. No writes ever reach the disk unless the device misbehaves: every
 * write request here is one khyve must refuse.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Common configuration (virtio 1.2, 4.1.4.3), offsets in the BAR. */
enum {
    C_DFSELECT = 0x00, C_DF = 0x04, C_GFSELECT = 0x08, C_GF = 0x0c, C_MSIX = 0x10,
    C_NUMQ = 0x12, C_STATUS = 0x14, C_QSELECT = 0x16, C_QSIZE = 0x18, C_QMSIX = 0x1a,
    C_QENABLE = 0x1c, C_QNOTIFYOFF = 0x1e, C_QDESC = 0x20, C_QDRIVER = 0x28, C_QDEVICE = 0x30,
    ISR = 0x1000, DEVCFG = 0x2000, NOTIFY = 0x3000, NOTIFY_MULT = 4, BAR_SIZE = 0x8000,
};
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8, S_NEEDS_RESET = 0x40 };
enum { D_NEXT = 1, D_WRITE = 2, D_INDIRECT = 4 };
#define F_INDIRECT (1ull << 28)
#define F_VERSION_1 (1ull << 32)

enum { BLK_IN = 0, BLK_OUT = 1, BLK_DISCARD = 11, BLK_WRITE_ZEROES = 13, BLK_S_OK = 0, BLK_S_IOERR = 1 };
#define F_BLK_DISCARD (1ull << 13)
#define F_BLK_WRITE_ZEROES (1ull << 14)

/* Layout of the 2 MiB scratch region (offsets). */
enum {
    R_DESC = 0x0000, R_AVAIL = 0x1000, R_USED = 0x2000, R_HDR = 0x3000, R_STATUS = 0x3800,
    R_DATA = 0x4000, R_INDIRECT = 0x10000, R_SIZE = 2 << 20,
};
#define QSIZE 16
#define NO_VECTOR 0xffff
/* Far above any RAM this guest has. */
#define GPA_OUTSIDE 0x4000000000ull

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

static volatile uint8_t* bar;
static uint8_t* ram;
static uint64_t ram_gpa;
static int failures;
static int type_net;
static uint16_t next_avail, seen_used;
static uint16_t queue_size = QSIZE; /* what bring_up() writes to queue_size */

static void say(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void pass(const char* name) { say("KHYVE-PASS: evil-%s", name); }

static void fail(const char* name, const char* fmt, ...) {
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    say("KHYVE-FAIL: evil-%s: %s", name, why);
    ++failures;
}

static void die(const char* what) {
    say("KHYVE-FAIL: evil-setup: %s: %s", what, strerror(errno));
    exit(100);
}

/* ---- MMIO ---- */
static uint8_t r8(unsigned o) { return *(volatile uint8_t*)(bar + o); }
static uint16_t r16(unsigned o) { return *(volatile uint16_t*)(bar + o); }
static uint32_t r32(unsigned o) { return *(volatile uint32_t*)(bar + o); }
static void w8(unsigned o, uint8_t v) { *(volatile uint8_t*)(bar + o) = v; }
static void w16(unsigned o, uint16_t v) { *(volatile uint16_t*)(bar + o) = v; }
static void w32(unsigned o, uint32_t v) { *(volatile uint32_t*)(bar + o) = v; }
static void w64(unsigned o, uint64_t v) {
    w32(o, (uint32_t)v);
    w32(o + 4, (uint32_t)(v >> 32));
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the scratch region ---- */
static uint64_t gpa(unsigned off) { return ram_gpa + off; }
static struct desc* table(unsigned off) { return (struct desc*)(ram + off); }
static volatile uint16_t* avail16(unsigned i) { return (volatile uint16_t*)(ram + R_AVAIL) + i; }
static volatile uint16_t* used_idx(void) { return (volatile uint16_t*)(ram + R_USED + 2); }
static volatile uint32_t* used_elem(unsigned slot) {
    return (volatile uint32_t*)(ram + R_USED + 4 + 8 * (slot % QSIZE));
}

static void put_desc(unsigned tab, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    struct desc* d = table(tab) + i;
    d->addr = addr;
    d->len = len;
    d->flags = flags;
    d->next = next;
}

/* ---- the device ---- */

static void reset_device(void) {
    w8(C_STATUS, 0);
    for (int i = 0; i < 1000 && r8(C_STATUS) != 0; ++i) sleep_ms(1);
    (void)r8(ISR); /* drop any INTx the device still asserts */
}

/* Reset, negotiate, set up queue `q` (and the others the device needs).
 * desc_gpa overrides the descriptor table address (0: the region's).
 * Returns the device status after DRIVER_OK. */
static uint8_t bring_up(uint64_t features, uint64_t desc_gpa) {
    reset_device();
    memset(ram, 0, R_SIZE);
    next_avail = seen_used = 0;
    w8(C_STATUS, S_ACK);
    w8(C_STATUS, S_ACK | S_DRIVER);
    w32(C_DFSELECT, 1);
    uint64_t offered = (uint64_t)r32(C_DF) << 32;
    w32(C_DFSELECT, 0);
    offered |= r32(C_DF);
    features &= offered;
    w32(C_GFSELECT, 0);
    w32(C_GF, (uint32_t)features);
    w32(C_GFSELECT, 1);
    w32(C_GF, (uint32_t)(features >> 32));
    w8(C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    if (!(r8(C_STATUS) & S_FEATURES_OK)) return r8(C_STATUS);
    w16(C_MSIX, NO_VECTOR);
    /* blk: queue 0 only. net: rx (0) and tx (1); rx gets an unused ring of
     * its own further up the region, tx uses the usual one. */
    const unsigned nq = type_net ? 2 : 1;
    for (unsigned q = 0; q < nq; ++q) {
        const unsigned base = (type_net && q == 0) ? 0x100000 : 0;
        w16(C_QSELECT, (uint16_t)q);
        w16(C_QSIZE, queue_size);
        w16(C_QMSIX, NO_VECTOR);
        w64(C_QDESC, base == 0 && desc_gpa ? desc_gpa : gpa(base + R_DESC));
        w64(C_QDRIVER, gpa(base + R_AVAIL));
        w64(C_QDEVICE, gpa(base + R_USED));
        w16(C_QENABLE, 1);
    }
    w8(C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    return r8(C_STATUS);
}

static unsigned work_queue(void) { return type_net ? 1 : 0; }

/* Offers `head` (or any raw ring value) and notifies; avail.idx may be
 * advanced by more than one to test the jump check. */
static void submit_raw(uint16_t ring_value, uint16_t idx_step) {
    *avail16(2 + next_avail % QSIZE) = ring_value;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    next_avail = (uint16_t)(next_avail + idx_step);
    *avail16(1) = next_avail;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    w16(NOTIFY + NOTIFY_MULT * r16(C_QNOTIFYOFF), (uint16_t)work_queue());
}

enum outcome { O_TIMEOUT, O_USED, O_NEEDS_RESET };

/* Waits up to 3 s for a used entry or NEEDS_RESET. */
static enum outcome wait_outcome(uint32_t* used_len) {
    for (int i = 0; i < 3000; ++i) {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (r8(C_STATUS) & S_NEEDS_RESET) return O_NEEDS_RESET;
        if (*used_idx() != seen_used) {
            *used_len = used_elem(seen_used)[1];
            ++seen_used;
            (void)r8(ISR);
            return O_USED;
        }
        sleep_ms(1);
    }
    return O_TIMEOUT;
}

static const char* outcome_name(enum outcome o) {
    return o == O_TIMEOUT ? "no answer in 3 s" : o == O_USED ? "a used entry" : "NEEDS_RESET";
}

/* ---- virtio-blk requests ---- */

static void blk_header(uint32_t type, uint64_t sector) {
    uint8_t* h = ram + R_HDR;
    memcpy(h, &type, 4);
    memset(h + 4, 0, 4);
    memcpy(h + 8, &sector, 8);
    ram[R_STATUS] = 0xff;
}

/* header / data (len bytes, device-writable for reads) / status */
static void blk_chain(uint32_t type, uint64_t sector, uint32_t len) {
    blk_header(type, sector);
    put_desc(R_DESC, 0, gpa(R_HDR), 16, D_NEXT, 1);
    put_desc(R_DESC, 1, gpa(R_DATA), len, D_NEXT | (type == BLK_IN ? D_WRITE : 0), 2);
    put_desc(R_DESC, 2, gpa(R_STATUS), 1, D_WRITE, 0);
    memset(ram + R_DATA, 0xee, len);
}

/* An honest one-sector read of sector 0 must succeed. */
static int blk_read_ok(void) {
    blk_chain(BLK_IN, 0, 512);
    submit_raw(0, 1);
    uint32_t len = 0;
    enum outcome o = wait_outcome(&len);
    return o == O_USED && ram[R_STATUS] == BLK_S_OK && len == 513;
}

/* Device usable again after a reset: bring up and read. */
static void check_recovers(const char* name) {
    char n[96];
    snprintf(n, sizeof n, "%s-recovers", name);
    uint8_t st = bring_up(F_VERSION_1 | F_INDIRECT, 0);
    if (!(st & S_DRIVER_OK) || (st & S_NEEDS_RESET)) {
        fail(n, "status 0x%02x after bring-up", st);
        return;
    }
    if (type_net) {
        pass(n);
        return;
    }
    if (blk_read_ok()) pass(n);
    else fail(n, "sector 0 read failed after reset (status byte %u)", ram[R_STATUS]);
}

/* Expect NEEDS_RESET for what case_fn submitted. */
static void expect_needs_reset(const char* name) {
    uint32_t len = 0;
    enum outcome o = wait_outcome(&len);
    if (o == O_NEEDS_RESET) pass(name);
    else fail(name, "expected NEEDS_RESET, got %s", outcome_name(o));
    check_recovers(name);
}

/* Expect a used entry with status IOERR and no NEEDS_RESET. */
static void expect_ioerr(const char* name) {
    uint32_t len = 0;
    enum outcome o = wait_outcome(&len);
    if (o != O_USED) fail(name, "expected IOERR, got %s", outcome_name(o));
    else if (ram[R_STATUS] != BLK_S_IOERR) fail(name, "status byte %u, expected IOERR (1)", ram[R_STATUS]);
    else if (r8(C_STATUS) & S_NEEDS_RESET) fail(name, "IOERR but also NEEDS_RESET");
    else pass(name);
    check_recovers(name);
}

static int up(const char* name) {
    uint8_t st = bring_up(F_VERSION_1 | F_INDIRECT, 0);
    if ((st & S_DRIVER_OK) && !(st & S_NEEDS_RESET)) return 1;
    fail(name, "device did not come up (status 0x%02x)", st);
    return 0;
}

static uint64_t blk_capacity(void) {
    return (uint64_t)r32(DEVCFG) | (uint64_t)r32(DEVCFG + 4) << 32;
}

/* blk-ro: the disk is read-only on the host (-s ...,virtio-blk,IMG,ro). The
 * guest kernel refuses writes to it by itself, so only a driver of its own
 * reaches the VMM with one: an honest write must come back IOERR and leave
 * the image alone (the scenario checks its digest). */
static void blk_ro_cases(void) {
    if (!up("ro-baseline")) return;
    if (blk_read_ok()) pass("ro-read-ok");
    else fail("ro-read-ok", "an honest read failed (status byte %u)", ram[R_STATUS]);
    blk_chain(BLK_OUT, 0, 512);
    submit_raw(0, 1);
    expect_ioerr("ro-write-refused-by-the-vmm");
    blk_chain(BLK_OUT, 8, 4096);
    submit_raw(0, 1);
    expect_ioerr("ro-4k-write-refused-by-the-vmm");
}

static void blk_cases(void) {
    const uint64_t cap = blk_capacity();
    say("evil: virtio-blk capacity %llu sectors", (unsigned long long)cap);

    if (up("baseline")) {
        if (blk_read_ok()) pass("baseline");
        else fail("baseline", "an honest read failed (status byte %u)", ram[R_STATUS]);
    }

    /* Descriptors 0 -> 1 -> 0 -> ... */
    if (up("desc-loop")) {
        blk_chain(BLK_IN, 0, 512);
        put_desc(R_DESC, 1, gpa(R_DATA), 512, D_NEXT | D_WRITE, 0);
        submit_raw(0, 1);
        expect_needs_reset("desc-loop");
    }
    /* A self-loop on one descriptor. */
    if (up("desc-self-loop")) {
        put_desc(R_DESC, 0, gpa(R_HDR), 16, D_NEXT, 0);
        submit_raw(0, 1);
        expect_needs_reset("desc-self-loop");
    }
    /* The data buffer is far outside guest RAM. */
    if (up("buffer-outside-ram")) {
        blk_chain(BLK_IN, 0, 512);
        put_desc(R_DESC, 1, GPA_OUTSIDE, 512, D_NEXT | D_WRITE, 2);
        submit_raw(0, 1);
        expect_needs_reset("buffer-outside-ram");
    }
    /* The buffer starts inside RAM but its length runs past 4 GiB of it. */
    if (up("buffer-straddles-ram")) {
        blk_chain(BLK_IN, 0, 512);
        put_desc(R_DESC, 1, gpa(R_DATA), 0xfffff000u, D_NEXT | D_WRITE, 2);
        submit_raw(0, 1);
        expect_needs_reset("buffer-straddles-ram");
    }
    /* Header descriptor writable only: no readable header to parse. */
    if (up("header-write-only")) {
        blk_chain(BLK_IN, 0, 512);
        put_desc(R_DESC, 0, gpa(R_HDR), 16, D_NEXT | D_WRITE, 1);
        submit_raw(0, 1);
        expect_needs_reset("header-write-only");
    }
    /* Head index past the queue. */
    if (up("head-out-of-range")) {
        blk_chain(BLK_IN, 0, 512);
        submit_raw(200, 1);
        expect_needs_reset("head-out-of-range");
    }
    /* avail.idx jumps by more than the queue size. */
    if (up("avail-idx-jump")) {
        blk_chain(BLK_IN, 0, 512);
        submit_raw(0, QSIZE + 5);
        expect_needs_reset("avail-idx-jump");
    }
    /* Descriptor table outside RAM: refused at DRIVER_OK. */
    {
        uint8_t st = bring_up(F_VERSION_1 | F_INDIRECT, GPA_OUTSIDE);
        if (st & S_NEEDS_RESET) pass("rings-outside-ram");
        else fail("rings-outside-ram", "status 0x%02x after DRIVER_OK", st);
        check_recovers("rings-outside-ram");
    }
    /* A queue size that is not a power of two: refused at DRIVER_OK. */
    {
        queue_size = 3;
        uint8_t st = bring_up(F_VERSION_1 | F_INDIRECT, 0);
        queue_size = QSIZE;
        if (st & S_NEEDS_RESET) pass("queue-size-not-power-of-2");
        else fail("queue-size-not-power-of-2", "status 0x%02x after DRIVER_OK", st);
        check_recovers("queue-size-not-power-of-2");
    }
    /* A descriptor table that is not 16-byte aligned. */
    {
        uint8_t st = bring_up(F_VERSION_1 | F_INDIRECT, gpa(R_DESC) + 8);
        if (st & S_NEEDS_RESET) pass("ring-misaligned");
        else fail("ring-misaligned", "status 0x%02x after DRIVER_OK", st);
        check_recovers("ring-misaligned");
    }
    /* An indirect table whose entries loop. */
    if (up("indirect-loop")) {
        blk_header(BLK_IN, 0);
        put_desc(R_INDIRECT, 0, gpa(R_HDR), 16, D_NEXT, 1);
        put_desc(R_INDIRECT, 1, gpa(R_DATA), 512, D_NEXT | D_WRITE, 2);
        put_desc(R_INDIRECT, 2, gpa(R_STATUS), 1, D_NEXT | D_WRITE, 0);
        put_desc(R_DESC, 0, gpa(R_INDIRECT), 3 * 16, D_INDIRECT, 0);
        submit_raw(0, 1);
        expect_needs_reset("indirect-loop");
    }
    /* An indirect table inside an indirect table. */
    if (up("indirect-nested")) {
        blk_header(BLK_IN, 0);
        put_desc(R_INDIRECT, 0, gpa(R_INDIRECT + 0x1000), 16, D_INDIRECT, 0);
        put_desc(R_DESC, 0, gpa(R_INDIRECT), 16, D_INDIRECT, 0);
        submit_raw(0, 1);
        expect_needs_reset("indirect-nested");
    }
    /* Too long a chain: 2000 linked descriptors in one indirect table. */
    if (up("chain-too-long")) {
        blk_header(BLK_IN, 0);
        const unsigned n = 2000;
        put_desc(R_INDIRECT, 0, gpa(R_HDR), 16, D_NEXT, 1);
        for (unsigned i = 1; i + 1 < n; ++i) put_desc(R_INDIRECT, i, gpa(R_DATA), 512, D_NEXT | D_WRITE, (uint16_t)(i + 1));
        put_desc(R_INDIRECT, n - 1, gpa(R_STATUS), 1, D_WRITE, 0);
        put_desc(R_DESC, 0, gpa(R_INDIRECT), n * 16, D_INDIRECT, 0);
        submit_raw(0, 1);
        expect_needs_reset("chain-too-long");
    }
    /* A chain that uses every descriptor of the queue and then loops back. */
    if (up("chain-wraps-queue")) {
        blk_header(BLK_IN, 0);
        put_desc(R_DESC, 0, gpa(R_HDR), 16, D_NEXT, 1);
        for (unsigned i = 1; i < QSIZE; ++i)
            put_desc(R_DESC, i, gpa(R_DATA), 512, D_NEXT | D_WRITE, (uint16_t)((i + 1) % QSIZE));
        submit_raw(0, 1);
        expect_needs_reset("chain-wraps-queue");
    }

    /* Sector arithmetic: well-formed requests that must fail with IOERR and
     * write nothing (the host checks the image's digest afterwards). */
    struct {
        const char* name;
        uint32_t type;
        uint64_t sector;
        uint32_t len;
    } bad[] = {
        {"write-sector-max", BLK_OUT, UINT64_MAX, 512},
        {"write-sector-wraps-to-0", BLK_OUT, 1ull << 55, 512},        /* sector*512 = 2^64 */
        {"write-sector-wraps-to-1", BLK_OUT, (1ull << 55) + 1, 512},
        {"write-past-end", BLK_OUT, cap - 1, 1024},
        {"write-at-end", BLK_OUT, cap, 512},
        {"read-sector-max", BLK_IN, UINT64_MAX - 1, 512},
        {"read-past-end", BLK_IN, cap - 1, 4096},
        {"write-partial-sector", BLK_OUT, 0, 100},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        if (!up(bad[i].name)) continue;
        blk_chain(bad[i].type, bad[i].sector, bad[i].len);
        submit_raw(0, 1);
        expect_ioerr(bad[i].name);
    }

    /* Discard and write-zeroes (a punched hole or zeroes would change the
     * image): one segment {sector, num_sectors, flags} after the header. */
    struct {
        const char* name;
        uint32_t type;
        uint64_t sector;
        uint32_t count;
    } segs[] = {
        {"discard-sector-wraps", BLK_DISCARD, (1ull << 55) - 1, 2},
        {"discard-past-end", BLK_DISCARD, cap - 1, 2},
        {"write-zeroes-sector-max", BLK_WRITE_ZEROES, UINT64_MAX, 1},
        {"write-zeroes-sector-wraps-to-0", BLK_WRITE_ZEROES, 1ull << 55, 1},
    };
    for (size_t i = 0; i < sizeof segs / sizeof segs[0]; ++i) {
        const uint8_t st = bring_up(F_VERSION_1 | F_BLK_DISCARD | F_BLK_WRITE_ZEROES, 0);
        if (!(st & S_DRIVER_OK) || (st & S_NEEDS_RESET)) {
            fail(segs[i].name, "device did not come up (status 0x%02x)", st);
            continue;
        }
        blk_header(segs[i].type, 0);
        uint8_t* seg = ram + R_DATA;
        memset(seg, 0, 16);
        memcpy(seg, &segs[i].sector, 8);
        memcpy(seg + 8, &segs[i].count, 4);
        put_desc(R_DESC, 0, gpa(R_HDR), 16, D_NEXT, 1);
        put_desc(R_DESC, 1, gpa(R_DATA), 16, D_NEXT, 2);
        put_desc(R_DESC, 2, gpa(R_STATUS), 1, D_WRITE, 0);
        submit_raw(0, 1);
        expect_ioerr(segs[i].name);
    }
}

/* ---- virtio-net: hostile transmit chains ---- */

static void net_cases(void) {
    /* The tx queue is 1; its notify offset is read after selecting it.
     * First an honest frame (12-byte header, 60-byte broadcast frame): it
     * must come back used, or the failures below would prove nothing. */
    if (up("net-baseline")) {
        w16(C_QSELECT, 1);
        memset(ram + R_DATA, 0, 128);
        memset(ram + R_DATA + 64, 0xff, 6);
        put_desc(R_DESC, 0, gpa(R_DATA), 12, D_NEXT, 1);
        put_desc(R_DESC, 1, gpa(R_DATA + 64), 60, 0, 0);
        submit_raw(0, 1);
        uint32_t len = 0;
        enum outcome o = wait_outcome(&len);
        if (o == O_USED) pass("net-baseline");
        else fail("net-baseline", "an honest frame got %s", outcome_name(o));
    }
    if (up("net-tx-loop")) {
        w16(C_QSELECT, 1);
        memset(ram + R_DATA, 0, 64);
        put_desc(R_DESC, 0, gpa(R_DATA), 12, D_NEXT, 1);
        put_desc(R_DESC, 1, gpa(R_DATA + 64), 60, D_NEXT, 0);
        submit_raw(0, 1);
        expect_needs_reset("net-tx-loop");
    }
    if (up("net-tx-outside-ram")) {
        w16(C_QSELECT, 1);
        put_desc(R_DESC, 0, gpa(R_DATA), 12, D_NEXT, 1);
        put_desc(R_DESC, 1, GPA_OUTSIDE, 1500, 0, 0);
        submit_raw(0, 1);
        expect_needs_reset("net-tx-outside-ram");
    }
    if (up("net-tx-indirect-loop")) {
        w16(C_QSELECT, 1);
        put_desc(R_INDIRECT, 0, gpa(R_DATA), 12, D_NEXT, 1);
        put_desc(R_INDIRECT, 1, gpa(R_DATA + 64), 60, D_NEXT, 0);
        put_desc(R_DESC, 0, gpa(R_INDIRECT), 32, D_INDIRECT, 0);
        submit_raw(0, 1);
        expect_needs_reset("net-tx-indirect-loop");
    }
}

/* ---- finding and claiming the device ---- */

static int read_hex(const char* path, unsigned* out) {
    FILE* f = fopen(path, "r");
    if (!f) return 0;
    int ok = fscanf(f, "%x", out) == 1;
    fclose(f);
    return ok;
}

static int find_function(unsigned device_id, char* bdf, size_t n) {
    DIR* d = opendir("/sys/bus/pci/devices");
    if (!d) die("opendir /sys/bus/pci/devices");
    struct dirent* e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[1024];
        unsigned v = 0, dev = 0;
        snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/vendor", e->d_name);
        if (!read_hex(p, &v)) continue;
        snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/device", e->d_name);
        if (!read_hex(p, &dev)) continue;
        if (v == 0x1af4 && dev == device_id) {
            snprintf(bdf, n, "%s", e->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

static void write_file(const char* path, const char* text) {
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, text, strlen(text)) < 0) die(path);
    close(fd);
}

int main(int argc, char** argv) {
    if (argc != 3 || (strcmp(argv[1], "blk") && strcmp(argv[1], "blk-ro") && strcmp(argv[1], "net"))) {
        fprintf(stderr, "usage: %s blk|blk-ro|net RING_GPA\n", argv[0]);
        return 2;
    }
    type_net = !strcmp(argv[1], "net");
    ram_gpa = strtoull(argv[2], NULL, 0);

    char bdf[256], p[1024];
    if (!find_function(type_net ? 0x1041 : 0x1042, bdf, sizeof bdf)) {
        errno = ENODEV;
        die("no virtio device of that kind");
    }
    say("evil: %s at %s, scratch RAM at 0x%llx", argv[1], bdf, (unsigned long long)ram_gpa);

    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/driver", bdf);
    if (access(p, F_OK) == 0) {
        snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/driver/unbind", bdf);
        write_file(p, bdf);
    }
    /* Memory decoding and bus mastering on, as the driver would. */
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/config", bdf);
    int cfd = open(p, O_RDWR);
    uint16_t cmd = 0;
    if (cfd < 0 || pread(cfd, &cmd, 2, 4) != 2) die("PCI config");
    cmd |= 0x6;
    if (pwrite(cfd, &cmd, 2, 4) != 2) die("PCI command register");
    close(cfd);

    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/resource0", bdf);
    int bfd = open(p, O_RDWR | O_SYNC);
    if (bfd < 0) die(p);
    void* b = mmap(NULL, BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0);
    if (b == MAP_FAILED) die("mmap BAR 0");
    bar = b;

    int mfd = open("/dev/mem", O_RDWR | O_SYNC);
    if (mfd < 0) die("/dev/mem");
    void* m = mmap(NULL, R_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, (off_t)ram_gpa);
    if (m == MAP_FAILED) die("mmap /dev/mem (is the region memmap-reserved?)");
    ram = m;

    say("evil: %u queues, status 0x%02x", r16(C_NUMQ), r8(C_STATUS));
    if (type_net) net_cases();
    else if (!strcmp(argv[1], "blk-ro")) blk_ro_cases();
    else blk_cases();

    reset_device();
    munmap(m, R_SIZE);
    munmap(b, BAR_SIZE);
    /* Hand the function back to the kernel: its driver must work again. */
    write_file("/sys/bus/pci/drivers/virtio-pci/bind", bdf);
    say("evil: done, %d failure(s)", failures);
    return failures > 100 ? 100 : failures;
}
