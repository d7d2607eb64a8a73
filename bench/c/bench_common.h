/*
 * Shared by the C benchmark programs of bench/run (etk_bench.c,
 * mosq_bench.c, paho_bench.c): configuration from the environment, clocks,
 * percentiles and VmRSS. Every program takes the same command line:
 *
 *   PROG publish    TRANSPORT QOS PAYLOAD_BYTES MESSAGES TOPIC [KEY=VALUE...]
 *                                                         -> key=value line (below)
 *   PROG connect    TRANSPORT ROUNDS                      -> median ms
 *   PROG latency    TRANSPORT RATE MESSAGES               -> p50_us p99_us
 *   PROG idle-rss                                         -> rss_kib anon_kib file_kib
 *
 * publish: one connected client publishes MESSAGES payloads of zeros to
 * TOPIC, then prints one line
 *
 *   own_rate= start_ns= done_ns= cpu_us= user_us= sys_us= syncs= wchar=
 *   write_bytes= threads=NAME:US,...
 *
 * and keeps the connection open until a line (or EOF) arrives on stdin, so
 * bench/run's subscriber can count what arrived before anything is torn
 * down. own_rate is MESSAGES / (done_ns - start_ns): start_ns (CLOCK_MONOTONIC)
 * just before the first publish call, done_ns when the client says every
 * message is done with (each program's header says what that means). CPU,
 * syncs and I/O are differences over the same interval: cpu_us user + sys
 * of the whole process (getrusage RUSAGE_SELF, all threads) minus bench_us,
 * the CPU the main thread spent in the benchmark's own pacing sleeps and
 * waiting for completion after the last publish call (CLOCK_THREAD_CPUTIME_ID;
 * user_us and sys_us are the raw getrusage figures); threads the same per
 * thread (/proc/self/task/TID/schedstat, ns; the thread that runs main is
 * "main", less bench_us, others by their comm name, summed by name), syncs the
 * fsync-family calls counted by count_sync.so when it is preloaded (-1
 * otherwise), wchar and write_bytes from /proc/self/io. KEY=VALUE:
 *   inflight=N   the client's in-flight window (default: the library's own)
 *   rate=R       publish on a fixed schedule of R msg/s (default: flat out)
 *   store=DIR    etk-c: STOREDIR; paho: MQTTCLIENT_PERSISTENCE_DEFAULT in DIR
 *   sync=POLICY  etk-c: STORESYNC (always, batch)
 *
 * TRANSPORT is tcp, tls (certificate TLS) or psk. The broker comes from
 * BENCH_HOST, BENCH_PORT_TCP, BENCH_PORT_TLS, BENCH_PORT_PSK, BENCH_CAFILE,
 * BENCH_PSK_KEY (hex) and BENCH_PSK_ID. Results go to stdout, one line;
 * diagnostics to stderr.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_INFLIGHT 20
#define CONNECT_TIMEOUT_NS (10LL * 1000000000LL)
#define DRAIN_TIMEOUT_NS (300LL * 1000000000LL)

enum transport { TRANSPORT_TCP, TRANSPORT_TLS, TRANSPORT_PSK };

struct broker {
    const char *host;
    int port;
    enum transport transport;
    const char *cafile;
    const char *psk_key;
    const char *psk_id;
};

static void die(const char *what) {
    fprintf(stderr, "%s\n", what);
    exit(1);
}

static const char *env_or_die(const char *name) {
    const char *value = getenv(name);
    if (value == NULL || *value == '\0') {
        fprintf(stderr, "missing environment variable %s\n", name);
        exit(2);
    }
    return value;
}

static struct broker broker_for(const char *transport) {
    struct broker b;
    memset(&b, 0, sizeof b);
    b.host = env_or_die("BENCH_HOST");
    if (strcmp(transport, "tcp") == 0) {
        b.transport = TRANSPORT_TCP;
        b.port = atoi(env_or_die("BENCH_PORT_TCP"));
    } else if (strcmp(transport, "tls") == 0) {
        b.transport = TRANSPORT_TLS;
        b.port = atoi(env_or_die("BENCH_PORT_TLS"));
        b.cafile = env_or_die("BENCH_CAFILE");
    } else if (strcmp(transport, "psk") == 0) {
        b.transport = TRANSPORT_PSK;
        b.port = atoi(env_or_die("BENCH_PORT_PSK"));
        b.psk_key = env_or_die("BENCH_PSK_KEY");
        b.psk_id = env_or_die("BENCH_PSK_ID");
    } else {
        fprintf(stderr, "unknown transport %s (tcp, tls, psk)\n", transport);
        exit(2);
    }
    return b;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(int64_t ns) {
    struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void sleep_until_ns(int64_t t) {
    struct timespec ts = {t / 1000000000LL, t % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* A deadline for pthread_cond_timedwait (CLOCK_REALTIME) ms from now. */
static struct timespec deadline_in_ms(long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile (p in 0..1) of n values; sorts them. */
static double percentile(double *values, int n, double p) {
    int rank;
    qsort(values, (size_t)n, sizeof *values, compare_doubles);
    rank = (int)(p * n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return values[rank - 1];
}

/* A "Key:   N kB" line of /proc/self/status, in KiB; -1 if absent. */
static long status_kib(const char *key) {
    char line[256];
    size_t key_len = strlen(key);
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, key_len) == 0 && line[key_len] == ':') {
            kib = strtol(line + key_len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

static long vm_rss_kib(void) {
    return status_kib("VmRSS");
}

/* Prints "rss anon file" KiB increases since the *0 readings. */
__attribute__((unused)) static void print_rss_increase(long rss0, long anon0, long file0) {
    printf("%ld %ld %ld\n", vm_rss_kib() - rss0, status_kib("RssAnon") - anon0, status_kib("RssFile") - file0);
}

/* Hex key -> bytes; returns the byte count or -1. */
__attribute__((unused)) static int hex_to_bytes(const char *hex, unsigned char *out, size_t max) {
    size_t len = strlen(hex), i;
    if (len % 2 != 0 || len / 2 > max) return -1;
    for (i = 0; i < len / 2; i++) {
        unsigned int byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1) return -1;
        out[i] = (unsigned char)byte;
    }
    return (int)(len / 2);
}

/* Latency payload: publish time (CLOCK_MONOTONIC ns) and sequence number. */
#define LATENCY_PAYLOAD 64
struct latency_record {
    double *micros;  /* by sequence number */
    int expected;
    int received;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
};

static void latency_stamp(unsigned char *payload, int64_t t, int32_t seq) {
    memset(payload, 0, LATENCY_PAYLOAD);
    memcpy(payload, &t, sizeof t);
    memcpy(payload + sizeof t, &seq, sizeof seq);
}

static void latency_arrived(struct latency_record *r, const void *payload, size_t len) {
    int64_t sent, now = now_ns();
    int32_t seq;
    if (len < sizeof sent + sizeof seq) return;
    memcpy(&sent, payload, sizeof sent);
    memcpy(&seq, (const char *)payload + sizeof sent, sizeof seq);
    pthread_mutex_lock(&r->mutex);
    if (seq >= 0 && seq < r->expected && r->micros[seq] < 0) {
        r->micros[seq] = (double)(now - sent) / 1000.0;
        if (++r->received == r->expected) pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->mutex);
}

static void latency_init(struct latency_record *r, int expected) {
    int i;
    r->micros = malloc(sizeof(double) * (size_t)expected);
    if (r->micros == NULL) die("out of memory");
    for (i = 0; i < expected; i++) r->micros[i] = -1;
    r->expected = expected;
    r->received = 0;
    pthread_mutex_init(&r->mutex, NULL);
    pthread_cond_init(&r->cond, NULL);
}

/* Waits up to 30 s for every message; prints "p50 p99" in microseconds. */
static int latency_report(struct latency_record *r) {
    int rc = 0;
    struct timespec deadline = deadline_in_ms(30000);
    pthread_mutex_lock(&r->mutex);
    while (r->received < r->expected && rc == 0)
        rc = pthread_cond_timedwait(&r->cond, &r->mutex, &deadline);
    if (r->received < r->expected) {
        fprintf(stderr, "latency: only %d of %d messages came back\n", r->received, r->expected);
        pthread_mutex_unlock(&r->mutex);
        return 1;
    }
    pthread_mutex_unlock(&r->mutex);
    printf("%.1f %.1f\n", percentile(r->micros, r->expected, 0.50),
           percentile(r->micros, r->expected, 0.99));
    return 0;
}

/* Waits on `cond` (with `mutex`) until *count reaches `target` or the
 * DRAIN_TIMEOUT_NS deadline passes; dies if it did not. */
__attribute__((unused)) static void await_count(pthread_mutex_t *mutex, pthread_cond_t *cond,
                                                const long *count, long target) {
    struct timespec deadline = deadline_in_ms(DRAIN_TIMEOUT_NS / 1000000);
    int rc = 0;
    pthread_mutex_lock(mutex);
    while (*count < target && rc == 0) rc = pthread_cond_timedwait(cond, mutex, &deadline);
    pthread_mutex_unlock(mutex);
    if (*count < target) die("messages never acknowledged");
}

/* What `PROG publish` was asked to do (command line at the top). */
struct publish_args {
    const char *topic;
    int qos;
    int size;
    int messages;
    int inflight;           /* 0: the library's default */
    double rate;            /* msg/s; 0: as fast as the API takes them */
    const char *store_dir;  /* NULL: no persistence */
    const char *store_sync; /* NULL: the library's default */
};

static int parse_publish_args(int argc, char **argv, struct publish_args *a) {
    int i;
    memset(a, 0, sizeof *a);
    a->qos = atoi(argv[3]);
    a->size = atoi(argv[4]);
    a->messages = atoi(argv[5]);
    a->topic = argv[6];
    for (i = 7; i < argc; i++) {
        if (strncmp(argv[i], "inflight=", 9) == 0) a->inflight = atoi(argv[i] + 9);
        else if (strncmp(argv[i], "rate=", 5) == 0) a->rate = atof(argv[i] + 5);
        else if (strncmp(argv[i], "store=", 6) == 0) a->store_dir = argv[i] + 6;
        else if (strncmp(argv[i], "sync=", 5) == 0) a->store_sync = argv[i] + 5;
        else {
            fprintf(stderr, "unknown publish setting %s\n", argv[i]);
            return -1;
        }
    }
    if (a->qos < 0 || a->qos > 2 || a->size < 0 || a->messages <= 0 || a->inflight < 0 || a->rate < 0) {
        fprintf(stderr, "bad publish arguments\n");
        return -1;
    }
    return 0;
}

/* CPU time (ns) of each thread of this process, from /proc/self/task. */
#define MAX_THREADS 64
struct thread_cpu {
    int count;
    int tid[MAX_THREADS];
    char name[MAX_THREADS][20];
    long long ns[MAX_THREADS];
};

static void read_thread_cpu(struct thread_cpu *t) {
    DIR *dir = opendir("/proc/self/task");
    struct dirent *e;
    t->count = 0;
    if (dir == NULL) return;
    while ((e = readdir(dir)) != NULL && t->count < MAX_THREADS) {
        char path[128];
        FILE *f;
        int tid = atoi(e->d_name);
        long long ns = -1;
        char *nl;
        if (tid <= 0) continue;
        snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
        if ((f = fopen(path, "r")) == NULL) continue;
        if (fscanf(f, "%lld", &ns) != 1) ns = -1;
        fclose(f);
        if (ns < 0) continue;
        t->tid[t->count] = tid;
        t->ns[t->count] = ns;
        if (tid == (int)getpid()) {
            strcpy(t->name[t->count], "main");
        } else {
            snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
            t->name[t->count][0] = 0;
            if ((f = fopen(path, "r")) != NULL) {
                if (fgets(t->name[t->count], sizeof t->name[t->count], f) == NULL) t->name[t->count][0] = 0;
                fclose(f);
            }
            if ((nl = strchr(t->name[t->count], '\n')) != NULL) *nl = 0;
            /* Names become CSV fields and key=value pairs: keep them plain. */
            for (nl = t->name[t->count]; *nl; nl++)
                if (*nl == ',' || *nl == ':' || *nl == ' ' || *nl == '=') *nl = '_';
        }
        t->count++;
    }
    closedir(dir);
}

/* Prints threads=NAME:US,... of the CPU each thread (summed by name) used
 * between *before and now; threads that ended in between are not seen. */
static void print_thread_cpu(const struct thread_cpu *before, long long main_bench_us) {
    struct thread_cpu now;
    char names[MAX_THREADS][20];
    long long us[MAX_THREADS];
    int n = 0, i, j;
    read_thread_cpu(&now);
    for (i = 0; i < now.count; i++) {
        long long delta = now.ns[i];
        for (j = 0; j < before->count; j++)
            if (before->tid[j] == now.tid[i]) delta -= before->ns[j];
        for (j = 0; j < n; j++)
            if (strcmp(names[j], now.name[i]) == 0) break;
        if (j == n) {
            strcpy(names[n], now.name[i]);
            us[n++] = 0;
        }
        us[j] += delta / 1000 - (now.tid[i] == (int)getpid() ? main_bench_us : 0);
    }
    printf("threads=");
    for (j = 0; j < n; j++) printf("%s%s:%lld", j ? "," : "", names[j], us[j]);
}

/* wchar and write_bytes of /proc/self/io. */
static void read_proc_io(long long *wchar, long long *write_bytes) {
    char line[128];
    FILE *f = fopen("/proc/self/io", "r");
    *wchar = *write_bytes = -1;
    if (f == NULL) return;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "wchar:", 6) == 0) *wchar = atoll(line + 6);
        if (strncmp(line, "write_bytes:", 12) == 0) *write_bytes = atoll(line + 12);
    }
    fclose(f);
}

/* fsync-family calls so far, when count_sync.so is preloaded; else -1. */
static long sync_calls(void) {
    long (*counter)(void) = (long (*)(void))dlsym(RTLD_DEFAULT, "bench_sync_calls");
    return counter ? counter() : -1;
}

/* The costs of one publish run: taken just before the first publish. */
struct measurement {
    struct rusage ru;
    struct thread_cpu threads;
    long long wchar, write_bytes;
    long syncs;
    int64_t start_ns;
    /* CPU the caller's thread spent on the benchmark's own pacing and
     * waiting for completion (not in the library), left out of cpu_us. */
    int64_t bench_ns;
    int64_t wait_started_ns; /* caller thread CPU when the wait began; -1 */
};

static int64_t thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Sleeps until message i of a paced run is due (no-op when flat out); the
 * caller's CPU for it is the benchmark's, not the library's. */
static void pace(const struct publish_args *a, struct measurement *m, int i) {
    if (a->rate > 0) {
        int64_t t0 = thread_cpu_ns();
        sleep_until_ns(m->start_ns + (int64_t)(i * (1e9 / a->rate)));
        m->bench_ns += thread_cpu_ns() - t0;
    }
}

/* The last publish call returned: from here the caller only waits. */
static void measure_wait_begins(struct measurement *m) {
    m->wait_started_ns = thread_cpu_ns();
}

static void measure_start(struct measurement *m) {
    read_thread_cpu(&m->threads);
    read_proc_io(&m->wchar, &m->write_bytes);
    m->syncs = sync_calls();
    m->bench_ns = 0;
    m->wait_started_ns = -1;
    getrusage(RUSAGE_SELF, &m->ru);
    m->start_ns = now_ns();
}

static long long tv_us(struct timeval tv) {
    return (long long)tv.tv_sec * 1000000LL + tv.tv_usec;
}

/* Prints the publish result line (see the top) for a run that ended now. */
static void measure_end(struct measurement *m, int messages) {
    int64_t done = now_ns();
    struct rusage ru;
    long long wchar, write_bytes, user, sys, bench_us;
    long syncs;
    if (m->wait_started_ns >= 0) m->bench_ns += thread_cpu_ns() - m->wait_started_ns;
    bench_us = m->bench_ns / 1000;
    getrusage(RUSAGE_SELF, &ru);
    syncs = sync_calls();
    read_proc_io(&wchar, &write_bytes);
    user = tv_us(ru.ru_utime) - tv_us(m->ru.ru_utime);
    sys = tv_us(ru.ru_stime) - tv_us(m->ru.ru_stime);
    printf("own_rate=%.0f start_ns=%lld done_ns=%lld cpu_us=%lld user_us=%lld sys_us=%lld bench_us=%lld syncs=%ld "
           "wchar=%lld write_bytes=%lld ",
           messages / ((done - m->start_ns) / 1e9), (long long)m->start_ns, (long long)done, user + sys - bench_us,
           user, sys, bench_us, syncs < 0 || m->syncs < 0 ? -1L : syncs - m->syncs, wchar - m->wchar,
           write_bytes - m->write_bytes);
    print_thread_cpu(&m->threads, bench_us);
    printf("\n");
    fflush(stdout);
}

/* Blocks until the harness sends a line or closes stdin: the subscriber
 * has counted (or given up), and the client may disconnect. */
static void wait_for_harness(void) {
    char line[64];
    if (fgets(line, sizeof line, stdin) == NULL) return;
}

/* The modes every program implements (command line at the top). */
struct bench_modes {
    int (*publish)(const struct broker *b, const struct publish_args *a);
    int (*connect_time)(const struct broker *b, int rounds);
    int (*latency)(const struct broker *b, int rate, int messages);
    int (*idle_rss)(const struct broker *b);
};

/* Runs the mode argv names and stores its exit code in *rc; 0 if argv
 * names none of the common modes (the program may have its own). */
static int run_common_mode(const struct bench_modes *m, int argc, char **argv, int *rc) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "publish") == 0 && argc >= 7) {
        struct broker b = broker_for(argv[2]);
        struct publish_args a;
        *rc = parse_publish_args(argc, argv, &a) != 0 ? 2 : m->publish(&b, &a);
    } else if (strcmp(mode, "connect") == 0 && argc == 4) {
        struct broker b = broker_for(argv[2]);
        *rc = m->connect_time(&b, atoi(argv[3]));
    } else if (strcmp(mode, "latency") == 0 && argc == 5) {
        struct broker b = broker_for(argv[2]);
        *rc = m->latency(&b, atoi(argv[3]), atoi(argv[4]));
    } else if (strcmp(mode, "idle-rss") == 0) {
        struct broker b = broker_for("tcp");
        *rc = m->idle_rss(&b);
    } else {
        return 0;
    }
    return 1;
}

/* Publishes `messages` stamped payloads at `rate` per second on a fixed
 * schedule (a late publish does not shift the later ones). */
#define PACED_PUBLISH(rate, messages, PUBLISH_CALL)                          \
    do {                                                                     \
        unsigned char payload_[LATENCY_PAYLOAD];                             \
        int64_t start_ = now_ns() + 10000000LL, period_ = 1000000000LL / (rate); \
        int i_;                                                              \
        for (i_ = 0; i_ < (messages); i_++) {                                \
            sleep_until_ns(start_ + period_ * i_);                           \
            latency_stamp(payload_, now_ns(), i_);                           \
            PUBLISH_CALL;                                                    \
        }                                                                    \
    } while (0)

#endif
