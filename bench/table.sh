#!/usr/bin/env bash
# Reads "BENCH-RESULT test vmm run key=value..." lines on stdin and prints a
# markdown table of medians and khyve/QEMU ratios.
exec awk '
function median(key,   n, i, j, v, t) {
    n = cnt[key]
    if (n == 0) return ""
    for (i = 1; i <= n; i++) v[i] = val[key, i]
    for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
    return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function add(row, vmm, x) { key = row SUBSEP vmm; val[key, ++cnt[key]] = x }
function fmt(x, unit) {
    if (x == "") return "–"
    if (unit == "s") return sprintf("%.2f", x)
    if (unit == "MiB") return sprintf("%.1f", x)
    if (unit == "IOPS") return sprintf("%.0f", x)
    return sprintf("%.1f", x)
}
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "–" : sprintf("%.2f×", a / b) }
$1 == "BENCH-RESULT" {
    test = $2; vmm = $3
    for (i = 5; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[2] == "" || kv[2] == "none") continue
        f[kv[1]] = kv[2]
    }
    if (test == "boot") {
        if ("boot_s" in f) add("boot", vmm, f["boot_s"])
        if ("kernel_s" in f) add("kernel", vmm, f["kernel_s"])
        if ("overhead_kib" in f) add("mem", vmm, f["overhead_kib"] / 1024)
    } else if (test == "blk-randread") {
        if ("iops" in f) add(test, vmm, f["iops"])
    } else if ("mib_s" in f) add(test, vmm, f["mib_s"])
    delete f
}
END {
    n = split("boot kernel mem blk-read blk-write blk-randread net-g2h net-h2g net-nc-g2h net-nc-h2g", rows, " ")
    name["boot"] = "boot to guest init (s, lower is better)"; unit["boot"] = "s"
    name["kernel"] = "of which guest kernel start to /init (s, guest clock)"; unit["kernel"] = "s"
    name["mem"] = "VMM private memory minus guest RAM, idle guest (MiB)"; unit["mem"] = "MiB"
    name["blk-read"] = "virtio-blk sequential read, 1 MiB O_DIRECT (MiB/s)"; unit["blk-read"] = "MiB/s"
    name["blk-write"] = "virtio-blk sequential write, 1 MiB O_DIRECT (MiB/s)"; unit["blk-write"] = "MiB/s"
    name["blk-randread"] = "virtio-blk 4 KiB random read, QD1 O_DIRECT (IOPS)"; unit["blk-randread"] = "IOPS"
    name["net-g2h"] = "virtio-net TCP guest→host (MiB/s)"; unit["net-g2h"] = "MiB/s"
    name["net-h2g"] = "virtio-net TCP host→guest (MiB/s)"; unit["net-h2g"] = "MiB/s"
    name["net-nc-g2h"] = "virtio-net busybox nc guest→host (MiB/s)"; unit["net-nc-g2h"] = "MiB/s"
    name["net-nc-h2g"] = "virtio-net busybox nc host→guest (MiB/s)"; unit["net-nc-h2g"] = "MiB/s"
    goal["boot"] = "≤ 0.5× pc, ≤ 0.8× microvm"; goal["mem"] = "≤ 3 MiB"
    goal["blk-read"] = goal["blk-write"] = goal["blk-randread"] = goal["net-g2h"] = goal["net-h2g"] = goal["net-nc-g2h"] = goal["net-nc-h2g"] = "≥ 1.0× pc"
    print "| metric | khyve | QEMU pc | QEMU microvm | khyve / pc | khyve / microvm | goal | runs |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
    for (r = 1; r <= n; r++) {
        row = rows[r]
        k = median(row SUBSEP "khyve"); p = median(row SUBSEP "qemu-pc"); m = median(row SUBSEP "qemu-microvm")
        if (k == "" && p == "" && m == "") continue
        u = unit[row]
        printf "| %s | %s | %s | %s | %s | %s | %s | %d/%d/%d |\n", name[row], fmt(k, u), fmt(p, u), fmt(m, u),
            ratio(k, p), ratio(k, m), goal[row], cnt[row SUBSEP "khyve"], cnt[row SUBSEP "qemu-pc"],
            cnt[row SUBSEP "qemu-microvm"]
    }
}'
