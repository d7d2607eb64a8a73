/*
 * Shared by the C benchmark programs of bench/run (etk_bench.c,
 * mosq_bench.c, paho_bench.c): configuration from the environment, clocks,
 * percentiles and VmRSS. Every program takes the same command line:
 *
 *   PROG throughput TRANSPORT QOS PAYLOAD_BYTES MESSAGES  -> msg/s
 *   PROG connect    TRANSPORT ROUNDS                      -> median ms
 *   PROG latency    TRANSPORT RATE MESSAGES               -> p50_us p99_us
 *   PROG idle-rss                                         -> KiB
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

static long vm_rss_kib(void) {
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
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

/* The modes every program implements (command line at the top). */
struct bench_modes {
    int (*throughput)(const struct broker *b, int qos, int size, int messages);
    int (*connect_time)(const struct broker *b, int rounds);
    int (*latency)(const struct broker *b, int rate, int messages);
    int (*idle_rss)(const struct broker *b);
};

/* Runs the mode argv names and stores its exit code in *rc; 0 if argv
 * names none of the common modes (the program may have its own). */
static int run_common_mode(const struct bench_modes *m, int argc, char **argv, int *rc) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "throughput") == 0 && argc == 6) {
        struct broker b = broker_for(argv[2]);
        *rc = m->throughput(&b, atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
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
