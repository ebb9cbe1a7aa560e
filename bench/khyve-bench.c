/* khyve-bench: the measuring side of bench/run.sh, one static binary used both
 * in the test host and in the guest (appended to the guest initramfs).
 *
 *   khyve-bench boot [--settle SEC] [--ram-mib N] [--timeout SEC] [--log FILE] [--smaps FILE] -- CMD...
 *       Runs CMD with its output on a pipe; reports the seconds from just
 *       before the fork to the first "KHYVE-GUEST-INIT" in that output. With
 *       --settle, waits SEC more (output still drained), then reads
 *       /proc/PID/smaps of CMD's process (CMD should exec the VMM) and
 *       reports its private resident memory minus the guest RAM mapping(s):
 *       mappings of at least --ram-mib MiB that are anonymous, a memfd, or a
 *       file named "mem" (khyve's $KHYVE_VMM_DIR/NAME/mem). Kills CMD at the end.
 *       Output: "boot_s=S overhead_kib=K private_kib=P ram_rss_kib=R".
 *       --smaps FILE also writes each mapping with private pages to FILE
 *       ("private_kib rss_kib perms path", [anon] for anonymous ones) and
 *       the number of threads, for breaking the overhead down.
 *   khyve-bench tcp-recv PORT          accepts one connection, reads to EOF
 *   khyve-bench tcp-send [--retry SEC] ADDR PORT SECONDS
 *       sends for SECONDS; the receiver's figure (first byte to EOF) counts.
 *       Output: "bytes=B seconds=S mib_s=M".
 *   khyve-bench blk-write DEV MIB BS_KIB / blk-read DEV MIB BS_KIB
 *       sequential O_DIRECT I/O from offset 0 ("mib_s=M").
 *   khyve-bench blk-randread DEV SECONDS
 *       4 KiB O_DIRECT reads at pseudo-random aligned offsets ("iops=N").
 *
 * Time is CLOCK_MONOTONIC of whichever kernel runs the tool.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "khyve-bench: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void usage(void) {
    fprintf(stderr, "usage: khyve-bench boot|tcp-recv|tcp-send|blk-read|blk-write|blk-randread ... (see source)\n");
    exit(2);
}

/* ---- boot ---------------------------------------------------------------- */

struct mem_figures {
    long private_kib, ram_rss_kib, ram_private_kib;
};

static int is_ram_mapping(const char *path, unsigned long long bytes, unsigned long long ram_bytes) {
    if (bytes < ram_bytes) return 0;
    if (*path == '\0') return 1; /* anonymous */
    if (strncmp(path, "/memfd:", 7) == 0) return 1;
    const char *slash = strrchr(path, '/');
    return slash && (strcmp(slash, "/mem") == 0 || strcmp(slash, "/mem (deleted)") == 0);
}

static int read_smaps(pid_t pid, unsigned long long ram_bytes, struct mem_figures *out) {
    char name[64], line[512];
    snprintf(name, sizeof name, "/proc/%d/smaps", (int)pid);
    FILE *f = fopen(name, "r");
    if (!f) return -1;
    int in_ram = 0;
    out->private_kib = out->ram_rss_kib = out->ram_private_kib = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi;
        char perms[8];
        int consumed = 0;
        if (sscanf(line, "%llx-%llx %7s %*s %*s %*s%n", &lo, &hi, perms, &consumed) == 3 && consumed > 0) {
            char *path = line + consumed;
            while (*path == ' ') path++;
            path[strcspn(path, "\n")] = '\0';
            in_ram = is_ram_mapping(path, hi - lo, ram_bytes);
            continue;
        }
        long kib;
        if (sscanf(line, "Rss: %ld kB", &kib) == 1) {
            if (in_ram) out->ram_rss_kib += kib;
        } else if (sscanf(line, "Private_Clean: %ld kB", &kib) == 1 ||
                   sscanf(line, "Private_Dirty: %ld kB", &kib) == 1) {
            out->private_kib += kib;
            /* A RAM mapping's shared pages (khyve's mem file) are not private
             * to begin with, so only its private part is taken back out. */
            if (in_ram) out->ram_private_kib += kib;
        }
    }
    fclose(f);
    return 0;
}

static void dump_smaps(pid_t pid, const char *path) {
    char name[64], line[512], cur[400] = "", perms[8] = "";
    FILE *out = fopen(path, "w");
    if (!out) return;
    snprintf(name, sizeof name, "/proc/%d/smaps", (int)pid);
    FILE *f = fopen(name, "r");
    long priv = 0, rss = 0;
    int have = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long lo, hi;
        char p[8];
        int consumed = 0;
        if (sscanf(line, "%llx-%llx %7s %*s %*s %*s%n", &lo, &hi, p, &consumed) == 3 && consumed > 0) {
            if (have && priv > 0) fprintf(out, "%ld %ld %s %s\n", priv, rss, perms, cur);
            char *q = line + consumed;
            while (*q == ' ') q++;
            q[strcspn(q, "\n")] = '\0';
            snprintf(cur, sizeof cur, "%s", *q ? q : "[anon]");
            snprintf(perms, sizeof perms, "%s", p);
            priv = rss = 0;
            have = 1;
            continue;
        }
        long kib;
        if (sscanf(line, "Rss: %ld kB", &kib) == 1) rss += kib;
        else if (sscanf(line, "Private_Clean: %ld kB", &kib) == 1 || sscanf(line, "Private_Dirty: %ld kB", &kib) == 1)
            priv += kib;
    }
    if (have && priv > 0) fprintf(out, "%ld %ld %s %s\n", priv, rss, perms, cur);
    if (f) fclose(f);
    snprintf(name, sizeof name, "/proc/%d/status", (int)pid);
    f = fopen(name, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Threads:", 8) == 0) fputs(line, out);
    if (f) fclose(f);
    fclose(out);
}

static int cmd_boot(int argc, char **argv) {
    double settle = 0, timeout = 120;
    long ram_mib = 256;
    const char *logpath = NULL, *smaps_path = NULL;
    int i = 0;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) { i++; break; }
        if (i + 1 >= argc) usage();
        if (strcmp(argv[i], "--settle") == 0) settle = atof(argv[++i]);
        else if (strcmp(argv[i], "--ram-mib") == 0) ram_mib = atol(argv[++i]);
        else if (strcmp(argv[i], "--timeout") == 0) timeout = atof(argv[++i]);
        else if (strcmp(argv[i], "--log") == 0) logpath = argv[++i];
        else if (strcmp(argv[i], "--smaps") == 0) smaps_path = argv[++i];
        else usage();
    }
    if (i >= argc) usage();
    FILE *log = logpath ? fopen(logpath, "w") : NULL;
    int p[2];
    if (pipe(p) < 0) die("pipe");
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        setpgid(0, 0);
        execvp(argv[i], argv + i);
        _exit(127);
    }
    close(p[1]);
    const char *marker = "KHYVE-GUEST-INIT";
    size_t mlen = strlen(marker), matched = 0;
    double t_init = -1, deadline = t0 + timeout;
    char buf[4096];
    for (;;) {
        double t = now();
        if (t >= deadline) break;
        if (t_init >= 0 && t >= t_init + settle) break;
        double until = t_init >= 0 ? t_init + settle : deadline;
        if (until > deadline) until = deadline;
        struct pollfd pf = {p[0], POLLIN, 0};
        int r = poll(&pf, 1, (int)((until - t) * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        ssize_t n = read(p[0], buf, sizeof buf);
        if (n <= 0) break; /* the VMM ended */
        double tr = now();
        if (log) fwrite(buf, 1, (size_t)n, log);
        /* Streaming match: the marker may straddle two reads. */
        for (ssize_t k = 0; k < n && t_init < 0; k++) {
            if (buf[k] == marker[matched]) {
                if (++matched == mlen) t_init = tr;
            } else {
                matched = buf[k] == marker[0] ? 1 : 0;
            }
        }
    }
    struct mem_figures m = {0, 0, 0};
    int have_mem = 0;
    if (t_init >= 0 && settle > 0) {
        unsigned long long ram_bytes = (unsigned long long)ram_mib << 20;
        have_mem = read_smaps(pid, ram_bytes, &m) == 0;
        if (smaps_path) dump_smaps(pid, smaps_path);
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    if (log) fclose(log);
    if (t_init < 0) {
        printf("boot_s=none\n");
        return 1;
    }
    printf("boot_s=%.3f", t_init - t0);
    if (have_mem)
        printf(" overhead_kib=%ld private_kib=%ld ram_rss_kib=%ld", m.private_kib - m.ram_private_kib, m.private_kib,
               m.ram_rss_kib);
    printf("\n");
    return 0;
}

/* ---- tcp ----------------------------------------------------------------- */

static char netbuf[256 << 10];

static int cmd_tcp_recv(int argc, char **argv) {
    if (argc != 1) usage();
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) die("socket");
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[0]))};
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(s, 1) < 0) die("listen");
    int c = accept(s, NULL, NULL);
    if (c < 0) die("accept");
    unsigned long long bytes = 0;
    double t_first = 0;
    for (;;) {
        ssize_t n = read(c, netbuf, sizeof netbuf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("read");
        if (n == 0) break;
        if (bytes == 0) t_first = now();
        bytes += (unsigned long long)n;
    }
    double secs = bytes ? now() - t_first : 0;
    printf("bytes=%llu seconds=%.3f mib_s=%.2f\n", bytes, secs, secs > 0 ? bytes / secs / 1048576.0 : 0.0);
    return 0;
}

static int cmd_tcp_send(int argc, char **argv) {
    double retry = 0;
    if (argc >= 2 && strcmp(argv[0], "--retry") == 0) {
        retry = atof(argv[1]);
        argc -= 2;
        argv += 2;
    }
    if (argc != 3) usage();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    if (inet_pton(AF_INET, argv[0], &a.sin_addr) != 1) usage();
    double secs = atof(argv[2]);
    double give_up = now() + retry;
    int s;
    for (;;) {
        s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) die("socket");
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) break;
        if (now() >= give_up) die("connect");
        close(s);
        usleep(200000);
    }
    memset(netbuf, 0x5a, sizeof netbuf);
    unsigned long long bytes = 0;
    double t0 = now(), end = t0 + secs;
    while (now() < end) {
        ssize_t n = write(s, netbuf, sizeof netbuf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("write");
        bytes += (unsigned long long)n;
    }
    close(s);
    double t = now() - t0;
    printf("bytes=%llu seconds=%.3f mib_s=%.2f\n", bytes, t, bytes / t / 1048576.0);
    return 0;
}

/* ---- block --------------------------------------------------------------- */

static int open_direct(const char *dev, int flags, unsigned long long *size) {
    int fd = open(dev, flags | O_DIRECT);
    if (fd < 0) die(dev);
    uint64_t sz = 0;
    if (ioctl(fd, BLKGETSIZE64, &sz) < 0) {
        struct stat st;
        if (fstat(fd, &st) < 0) die("fstat");
        sz = (uint64_t)st.st_size;
    }
    *size = sz;
    return fd;
}

static void *aligned(size_t len) {
    void *p;
    if (posix_memalign(&p, 4096, len)) die("posix_memalign");
    memset(p, 0xa5, len);
    return p;
}

static int cmd_blk_seq(int argc, char **argv, int write_mode) {
    if (argc != 3) usage();
    unsigned long long size, want = strtoull(argv[1], NULL, 10) << 20;
    size_t bs = strtoul(argv[2], NULL, 10) << 10;
    int fd = open_direct(argv[0], write_mode ? O_WRONLY : O_RDONLY, &size);
    if (want > size) want = size - size % bs;
    char *buf = aligned(bs);
    double t0 = now();
    for (unsigned long long off = 0; off + bs <= want; off += bs) {
        ssize_t n = write_mode ? pwrite(fd, buf, bs, (off_t)off) : pread(fd, buf, bs, (off_t)off);
        if (n != (ssize_t)bs) die(write_mode ? "pwrite" : "pread");
    }
    if (write_mode && fdatasync(fd) < 0) die("fdatasync");
    double t = now() - t0;
    printf("bytes=%llu seconds=%.3f mib_s=%.2f\n", want, t, want / t / 1048576.0);
    return 0;
}

static int cmd_blk_randread(int argc, char **argv) {
    if (argc != 2) usage();
    unsigned long long size;
    int fd = open_direct(argv[0], O_RDONLY, &size);
    double secs = atof(argv[1]);
    unsigned long long blocks = size / 4096;
    if (blocks == 0) usage();
    char *buf = aligned(4096);
    uint64_t x = 0x9e3779b97f4a7c15ull; /* xorshift: the same offsets every run */
    unsigned long long ios = 0;
    double t0 = now(), end = t0 + secs, t;
    do {
        for (int k = 0; k < 64; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if (pread(fd, buf, 4096, (off_t)((x % blocks) * 4096)) != 4096) die("pread");
            ios++;
        }
        t = now();
    } while (t < end);
    printf("ios=%llu seconds=%.3f iops=%.0f\n", ios, t - t0, ios / (t - t0));
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *c = argv[1];
    if (strcmp(c, "boot") == 0) return cmd_boot(argc - 2, argv + 2);
    if (strcmp(c, "tcp-recv") == 0) return cmd_tcp_recv(argc - 2, argv + 2);
    if (strcmp(c, "tcp-send") == 0) return cmd_tcp_send(argc - 2, argv + 2);
    if (strcmp(c, "blk-read") == 0) return cmd_blk_seq(argc - 2, argv + 2, 0);
    if (strcmp(c, "blk-write") == 0) return cmd_blk_seq(argc - 2, argv + 2, 1);
    if (strcmp(c, "blk-randread") == 0) return cmd_blk_randread(argc - 2, argv + 2);
    usage();
    return 2;
}
