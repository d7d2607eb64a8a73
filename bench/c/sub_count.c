/*
 * The one subscriber of bench/run: counts the PUBLISH packets that reach it,
 * for every client and every cell, so throughput is what arrived, not what a
 * publisher says it sent.
 *
 *   sub_count HOST PORT TOPIC EXPECTED PAYLOAD_BYTES DEADLINE_S
 *
 * It speaks MQTT 3.1.1 directly on a plain socket (no client library): one
 * CONNECT (clean session, keep-alive 0 so no PINGREQ ever interrupts), one
 * SUBSCRIBE at QoS 0 (the broker then delivers every message at QoS 0, so
 * the subscriber never sends a PUBACK), then a loop of blocking 256 KiB
 * reads (one syscall per wake-up) that only parses packet headers. That is the least work per message a
 * subscriber can do, so it is not the bottleneck; the busy share it prints
 * (its CPU time over the time it was receiving) and the share of reads that
 * found more waiting than one read takes show whether it kept up.
 *
 * It prints "ready" (flushed) once the SUBACK arrived; the harness starts
 * the publisher only then. It ends when EXPECTED messages on TOPIC with
 * PAYLOAD_BYTES of payload have arrived, on SIGTERM/SIGINT (the harness
 * gave up waiting), after 10 s without a message once one arrived, or
 * DEADLINE_S after the start; then it prints one line of key=value pairs:
 *
 *   received= expected= wrong= first_ns= last_ns= cpu_us= reads= full_reads= end=
 *
 * first_ns/last_ns: CLOCK_MONOTONIC (comparable with the publisher's
 * start_ns on the same machine) of the read that brought the first and the
 * last counted message. wrong: PUBLISH packets on another topic or with
 * another payload size (a stale retained message, or a bug). end: all,
 * signal, idle or deadline. Exit status 0 when all arrived, 1 otherwise.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BYTES (256 * 1024)
#define IDLE_NS (10LL * 1000000000LL)

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fail(const char *what) {
    fprintf(stderr, "sub_count: %s: %s\n", what, errno ? strerror(errno) : "protocol error");
    exit(2);
}

static void write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fail("write");
        p += w;
        n -= (size_t)w;
    }
}

/* Appends an MQTT remaining-length varint; returns the bytes written. */
static size_t put_varint(unsigned char *out, size_t value) {
    size_t n = 0;
    do {
        unsigned char byte = value % 128;
        value /= 128;
        out[n++] = (unsigned char)(byte | (value > 0 ? 0x80 : 0));
    } while (value > 0);
    return n;
}

static size_t put_string(unsigned char *out, const char *s) {
    size_t len = strlen(s);
    out[0] = (unsigned char)(len >> 8);
    out[1] = (unsigned char)len;
    memcpy(out + 2, s, len);
    return len + 2;
}

/* Parses one packet header at p (avail bytes): sets *type_flags and
 * *remaining and returns the header length, 0 if incomplete, -1 if bad. */
static int parse_header(const unsigned char *p, size_t avail, unsigned *type_flags, size_t *remaining) {
    size_t value = 0, multiplier = 1, i;
    if (avail < 2) return 0;
    *type_flags = p[0];
    for (i = 1; i < 5; i++) {
        if (i >= avail) return 0;
        value += (size_t)(p[i] & 0x7f) * multiplier;
        if ((p[i] & 0x80) == 0) {
            *remaining = value;
            return (int)(i + 1);
        }
        multiplier *= 128;
    }
    return -1;
}

int main(int argc, char **argv) {
    const char *host, *topic;
    long expected, payload_bytes, deadline_s;
    size_t topic_len, len = 0, need_remaining;
    unsigned char *buf, packet[1024];
    struct addrinfo hints, *ai;
    struct sigaction sa;
    struct rusage ru0, ru1;
    long received = 0, wrong = 0, reads = 0, full_reads = 0;
    int64_t start, first_ns = 0, last_ns = 0, last_message = 0;
    const char *end = "deadline";
    int fd, one = 1, subscribed = 0, connected = 0;
    char client_id[64];
    size_t n;

    if (argc != 7) {
        fprintf(stderr, "usage: sub_count HOST PORT TOPIC EXPECTED PAYLOAD_BYTES DEADLINE_S\n");
        return 2;
    }
    host = argv[1];
    topic = argv[3];
    topic_len = strlen(topic);
    expected = atol(argv[4]);
    payload_bytes = atol(argv[5]);
    deadline_s = atol(argv[6]);
    if (topic_len == 0 || topic_len > 512 || expected <= 0 || payload_bytes < 0 || deadline_s <= 0) {
        fprintf(stderr, "sub_count: bad arguments\n");
        return 2;
    }
    /* A PUBLISH we count: QoS 0, topic length + topic + payload. */
    need_remaining = 2 + topic_len + (size_t)payload_bytes;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a blocked poll returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, argv[2], &hints, &ai) != 0) fail("getaddrinfo");
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) fail("connect");
    freeaddrinfo(ai);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    /* CONNECT: protocol "MQTT" level 4, clean session, keep-alive 0. */
    {
        unsigned char body[128];
        size_t b = 0, h;
        snprintf(client_id, sizeof client_id, "bench-sub-%d", (int)getpid());
        b += put_string(body + b, "MQTT");
        body[b++] = 4;
        body[b++] = 0x02;
        body[b++] = 0;
        body[b++] = 0;
        b += put_string(body + b, client_id);
        packet[0] = 0x10;
        h = 1 + put_varint(packet + 1, b);
        memcpy(packet + h, body, b);
        write_all(fd, packet, h + b);
    }
    /* SUBSCRIBE packet id 1, the topic at QoS 0; sent after CONNACK. */

    buf = malloc(READ_BYTES + 8);
    if (buf == NULL) fail("malloc");
    start = now_ns();
    getrusage(RUSAGE_SELF, &ru0);

    {
        /* Blocking reads that give up after 200 ms, to check the deadlines:
         * one syscall per wake-up instead of a poll and a read. */
        struct timeval tv = {0, 200000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    while (!stop_requested) {
        int64_t t;
        size_t off = 0;
        ssize_t r = read(fd, buf + len, READ_BYTES - len);
        t = now_ns();
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (received > 0 && t - last_message > IDLE_NS) {
                end = "idle";
                break;
            }
            if (t - start > deadline_s * 1000000000LL) {
                end = "deadline";
                break;
            }
            continue;
        }
        if (r <= 0) {
            fprintf(stderr, "sub_count: the broker closed the connection%s%s\n", r < 0 ? ": " : "",
                    r < 0 ? strerror(errno) : "");
            end = "closed";
            break;
        }
        reads++;
        if ((size_t)r == READ_BYTES - len) full_reads++;
        len += (size_t)r;
        for (;;) {
            unsigned type_flags;
            size_t remaining;
            int h = parse_header(buf + off, len - off, &type_flags, &remaining);
            if (h < 0) fail("bad packet header");
            if (h == 0 || len - off < (size_t)h + remaining) break;
            switch (type_flags >> 4) {
            case 2: /* CONNACK */
                if (remaining != 2 || buf[off + h + 1] != 0) fail("CONNACK refused");
                connected = 1;
                {
                    size_t b = 0, hh;
                    unsigned char body[600];
                    body[b++] = 0;
                    body[b++] = 1;
                    b += put_string(body + b, topic);
                    body[b++] = 0;
                    packet[0] = 0x82;
                    hh = 1 + put_varint(packet + 1, b);
                    memcpy(packet + hh, body, b);
                    write_all(fd, packet, hh + b);
                }
                break;
            case 9: /* SUBACK */
                if (!connected || remaining != 3 || buf[off + h + 2] == 0x80) fail("SUBACK refused");
                subscribed = 1;
                printf("ready\n");
                fflush(stdout);
                break;
            case 3: { /* PUBLISH */
                const unsigned char *p = buf + off + h;
                size_t tl = remaining >= 2 ? ((size_t)p[0] << 8 | p[1]) : (size_t)-1;
                if ((type_flags & 0x06) == 0 && remaining == need_remaining && tl == topic_len &&
                    memcmp(p + 2, topic, topic_len) == 0) {
                    if (received++ == 0) first_ns = t;
                    last_ns = t;
                } else {
                    wrong++;
                }
                last_message = t;
                break;
            }
            default:
                break;
            }
            off += (size_t)h + remaining;
        }
        /* Keep the incomplete tail at the front: at most one packet. */
        if (off > 0) {
            memmove(buf, buf + off, len - off);
            len -= off;
        }
        if (len == READ_BYTES) fail("packet larger than the read buffer");
        if (subscribed && received >= expected) {
            end = "all";
            break;
        }
    }
    if (stop_requested) end = "signal";
    getrusage(RUSAGE_SELF, &ru1);
    n = (size_t)((ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1000000L +
                 (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
                 (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1000000L +
                 (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec));
    printf("received=%ld expected=%ld wrong=%ld first_ns=%lld last_ns=%lld cpu_us=%zu reads=%ld full_reads=%ld "
           "end=%s\n",
           received, expected, wrong, (long long)first_ns, (long long)last_ns, n, reads, full_reads, end);
    fflush(stdout);
    close(fd);
    free(buf);
    return received >= expected ? 0 : 1;
}
