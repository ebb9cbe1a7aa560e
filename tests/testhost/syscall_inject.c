/*
 * Makes one thread of a running process execute one system call, through
 * ptrace, without any help from the process: the seccomp scenario
 * (testhost/scenarios/seccomp.sh) uses it to show that a real bhyve's
 * control, vCPU and device I/O threads refuse what their filter forbids.
 *
 *   khyve_syscall_inject TID NR [ARG...]      (up to 6 arguments)
 *
 * The thread is interrupted where it is (normally blocked in a system call,
 * so the instruction before its RIP is `syscall`), its registers are set up
 * to run that instruction again with NR and the arguments, and it is
 * single-stepped over it. Output, one line:
 *   "returned N"  the call ran; the thread's registers are restored and it
 *                 goes on with the call it was in (restarted as after a signal)
 *   "refused"     the kernel answered with SIGSYS (seccomp); the signal is
 *                 delivered on detach, so the process's own handler runs
 *   "killed"      the kernel killed the whole process with SIGSYS (a
 *                 seccomp filter whose action is KILL_PROCESS)
 * (Single-stepping over one instruction is only safe where the thread's
 * own stop is in the signal path: restoring the registers there lets the
 * kernel restart the call the thread was interrupted in.)
 * Exit status 0 for either answer, 1 on any other outcome.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>

static int wait_stop(pid_t tid, int* status) {
    for (;;) {
        if (waitpid(tid, status, __WALL) < 0) {
            if (errno == EINTR) continue;
            perror("waitpid");
            return 0;
        }
        if (WIFSTOPPED(*status)) return 1;
        fprintf(stderr, "thread %d ended (status 0x%x)\n", tid, *status);
        return 0;
    }
}

/* Whether SIGSYS is pending for the thread (SigPnd in its status). */
static int sigsys_pending(pid_t tid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
    FILE* f = fopen(path, "r");
    if (!f) {
        snprintf(path, sizeof path, "/proc/%d/status", tid);
        f = fopen(path, "r");
    }
    if (!f) return 0;
    unsigned long long mask = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "SigPnd: %llx", &mask) == 1) break;
    fclose(f);
    return (mask >> (SIGSYS - 1)) & 1;
}

int main(int argc, char** argv) {
    if (argc < 3 || argc > 9) {
        fprintf(stderr, "usage: %s TID NR [ARG...]\n", argv[0]);
        return 2;
    }
    const pid_t tid = (pid_t)strtol(argv[1], NULL, 0);
    const long nr = strtol(argv[2], NULL, 0);
    unsigned long long args[6] = {0};
    for (int i = 3; i < argc; ++i) args[i - 3] = strtoull(argv[i], NULL, 0);

    if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0) {
        perror("PTRACE_SEIZE");
        return 1;
    }
    int status;
    if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0 || !wait_stop(tid, &status)) return 1;

    struct user_regs_struct saved, regs;
    if (ptrace(PTRACE_GETREGS, tid, 0, &saved) != 0) {
        perror("PTRACE_GETREGS");
        return 1;
    }
    errno = 0;
    const long word = ptrace(PTRACE_PEEKTEXT, tid, (void*)(saved.rip - 2), 0);
    if (errno != 0 || (word & 0xffff) != 0x050f) {
        fprintf(stderr, "thread %d is not stopped right after a syscall instruction (rip 0x%llx)\n", tid,
                saved.rip);
        ptrace(PTRACE_DETACH, tid, 0, 0);
        return 1;
    }
    regs = saved;
    regs.rip = saved.rip - 2;
    regs.rax = (unsigned long long)nr;
    regs.orig_rax = (unsigned long long)-1; /* no restart of the interrupted call here */
    regs.rdi = args[0];
    regs.rsi = args[1];
    regs.rdx = args[2];
    regs.r10 = args[3];
    regs.r8 = args[4];
    regs.r9 = args[5];
    if (ptrace(PTRACE_SETREGS, tid, 0, &regs) != 0) {
        perror("PTRACE_SETREGS");
        return 1;
    }
    if (ptrace(PTRACE_SINGLESTEP, tid, 0, 0) != 0) return 1;
    /* A filter with SECCOMP_RET_KILL_PROCESS ends the whole process at the
     * call, before any tracer or handler sees a signal (Linux 5.17 on). */
    for (;;) {
        if (waitpid(tid, &status, __WALL) >= 0) break;
        if (errno != EINTR) {
            perror("waitpid");
            return 1;
        }
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
        printf("killed\n");
        return 0;
    }
    if (!WIFSTOPPED(status)) {
        fprintf(stderr, "thread %d ended (status 0x%x)\n", tid, status);
        return 1;
    }

    const int sig = WSTOPSIG(status);
    /* A refused call leaves two signals: SIGSYS from seccomp and SIGTRAP
     * from the single step. Delivered untraced, the SIGTRAP would kill the
     * process before its SIGSYS handler ran, so it is swallowed here and
     * the SIGSYS (with its siginfo: the handler reads si_syscall) is the
     * one delivered on detach. */
    if (sig == SIGSYS) {
        siginfo_t info;
        if (ptrace(PTRACE_GETSIGINFO, tid, 0, &info) != 0) {
            perror("PTRACE_GETSIGINFO");
            return 1;
        }
        if (ptrace(PTRACE_CONT, tid, 0, 0) != 0 || !wait_stop(tid, &status)) return 1;
        if (WSTOPSIG(status) != SIGTRAP) fprintf(stderr, "after SIGSYS: stop with signal %d\n", WSTOPSIG(status));
        if (ptrace(PTRACE_SETSIGINFO, tid, 0, &info) != 0) perror("PTRACE_SETSIGINFO");
        printf("refused\n");
        fflush(stdout);
        ptrace(PTRACE_DETACH, tid, 0, SIGSYS);
        return 0;
    }
    if (sig == SIGTRAP && sigsys_pending(tid)) {
        printf("refused\n");
        fflush(stdout);
        ptrace(PTRACE_DETACH, tid, 0, 0);
        return 0;
    }
    if (sig != SIGTRAP) {
        fprintf(stderr, "unexpected stop with signal %d\n", sig);
        ptrace(PTRACE_DETACH, tid, 0, sig);
        return 1;
    }
    if (ptrace(PTRACE_GETREGS, tid, 0, &regs) != 0) {
        perror("PTRACE_GETREGS");
        return 1;
    }
    printf("returned %lld\n", (long long)regs.rax);
    fflush(stdout);
    if (ptrace(PTRACE_SETREGS, tid, 0, &saved) != 0) perror("PTRACE_SETREGS (restore)");
    ptrace(PTRACE_DETACH, tid, 0, 0);
    return 0;
}
