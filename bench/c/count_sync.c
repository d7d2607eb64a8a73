/*
 * LD_PRELOAD counter of the calls that force data to the storage medium
 * (fsync, fdatasync, sync_file_range, syncfs, sync, msync), for the durable
 * publishing benchmark of bench/run. Each wrapper counts and calls the real
 * function, so the process behaves as without it (one atomic increment per
 * call). The benchmark programs read the count through
 * bench_sync_calls(), found with dlsym (bench_common.h), at the start and
 * the end of the measured publishing, so setup (opening the store) is not
 * counted. It counts calls through the dynamic libc symbols, which is how
 * Rust's std (File::sync_data/sync_all) and Paho reach them; bench/run
 * cross-checks it once against `strace -f -c`.
 *
 *   gcc -shared -fPIC -O2 -o count_sync.so count_sync.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fcntl.h>

static atomic_long calls;

long bench_sync_calls(void) {
    return atomic_load(&calls);
}

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = NEXT(fsync);
    atomic_fetch_add(&calls, 1);
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = NEXT(fdatasync);
    atomic_fetch_add(&calls, 1);
    return real(fd);
}

int sync_file_range(int fd, off_t offset, off_t nbytes, unsigned int flags) {
    static int (*real)(int, off_t, off_t, unsigned int);
    if (!real) real = NEXT(sync_file_range);
    atomic_fetch_add(&calls, 1);
    return real(fd, offset, nbytes, flags);
}

int syncfs(int fd) {
    static int (*real)(int);
    if (!real) real = NEXT(syncfs);
    atomic_fetch_add(&calls, 1);
    return real(fd);
}

void sync(void) {
    static void (*real)(void);
    if (!real) real = NEXT(sync);
    atomic_fetch_add(&calls, 1);
    real();
}

int msync(void *addr, size_t length, int flags) {
    static int (*real)(void *, size_t, int);
    if (!real) real = NEXT(msync);
    atomic_fetch_add(&calls, 1);
    return real(addr, length, flags);
}
