/*
 * A slow link for bench/run: a TCP proxy on 127.0.0.1 that forwards to the
 * real broker and delays every byte by a fixed time in each direction,
 * without limiting the bandwidth.
 *
 *   delay_proxy DELAY_MS TARGET_HOST TARGET_PORT
 *
 * Prints "port N" (flushed) once it listens on 127.0.0.1:N, then serves
 * connections until SIGTERM/SIGINT, and prints to stderr per direction the
 * chunks and bytes forwarded and how late the writes were against their
 * due time (max and mean), so a run shows that the delay was the one asked
 * for and nothing more.
 *
 * Each direction of a connection has a reader thread, which reads whatever
 * the socket has (up to 64 KiB), stamps it with CLOCK_MONOTONIC + DELAY and
 * appends it to an unbounded queue (so the proxy never pushes back on the
 * sender: no throttling), and a writer thread, which sleeps until the head
 * of the queue is due (clock_nanosleep, absolute time) and writes every
 * chunk that is due by then in one go. TCP_NODELAY on both sockets, so no
 * Nagle delay is added on top. A reader's EOF becomes a shutdown(SHUT_WR)
 * once the data before it was written; an error closes both sockets.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES (64 * 1024)
#define MAX_IOV 64

struct chunk {
    struct chunk *next;
    int64_t due_ns;
    size_t len; /* 0: end of stream */
    unsigned char data[];
};

struct stats {
    pthread_mutex_t mutex;
    long chunks;
    long long bytes;
    int64_t max_late_ns;
    long double sum_late_ns;
};

struct pipe_dir {
    int from, to;
    struct chunk *head, *tail;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    struct stats *stats;
    struct conn *conn;
};

struct conn {
    int client, upstream;
    struct pipe_dir up, down;
    pthread_mutex_t mutex;
    int refs;
};

static int64_t delay_ns;
static struct stats upstream_stats = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0};
static struct stats downstream_stats = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0};
static const char *target_host, *target_port;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until_ns(int64_t t) {
    struct timespec ts = {t / 1000000000LL, t % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void release(struct conn *c) {
    int last;
    pthread_mutex_lock(&c->mutex);
    last = --c->refs == 0;
    pthread_mutex_unlock(&c->mutex);
    if (last) {
        close(c->client);
        close(c->upstream);
        free(c);
    }
}

/* Ends both directions: the other threads see errors or EOF and stop. */
static void abort_conn(struct conn *c) {
    shutdown(c->client, SHUT_RDWR);
    shutdown(c->upstream, SHUT_RDWR);
}

static void push(struct pipe_dir *p, struct chunk *ch) {
    pthread_mutex_lock(&p->mutex);
    ch->next = NULL;
    if (p->tail) p->tail->next = ch;
    else p->head = ch;
    p->tail = ch;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mutex);
}

/* On a machine busy with other work, a writer woken late adds delay the
 * link should not have: ask for real-time scheduling (root only; the
 * threads sleep almost all the time, so they cannot starve anything).
 * Whether it was granted is in the statistics. */
static int realtime_granted = 1;
static void ask_for_realtime(void) {
    struct sched_param sp;
    memset(&sp, 0, sizeof sp);
    sp.sched_priority = 10;
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != 0) realtime_granted = 0;
}

static void *reader(void *arg) {
    struct pipe_dir *p = arg;
    unsigned char *buf = malloc(CHUNK_BYTES);
    ask_for_realtime();
    for (;;) {
        ssize_t r = buf ? read(p->from, buf, CHUNK_BYTES) : -1;
        int64_t due;
        struct chunk *ch;
        if (r < 0 && errno == EINTR) continue;
        due = now_ns() + delay_ns;
        ch = malloc(sizeof *ch + (r > 0 ? (size_t)r : 0));
        if (ch == NULL) {
            abort_conn(p->conn);
            r = 0;
            ch = malloc(sizeof *ch);
            if (ch == NULL) abort();
        }
        ch->due_ns = due;
        ch->len = r > 0 ? (size_t)r : 0;
        if (r > 0) memcpy(ch->data, buf, (size_t)r);
        push(p, ch);
        if (r <= 0) break;
    }
    free(buf);
    release(p->conn);
    return NULL;
}

static void *writer(void *arg) {
    struct pipe_dir *p = arg;
    int done = 0;
    ask_for_realtime();
    while (!done) {
        struct chunk *batch[MAX_IOV];
        struct iovec iov[MAX_IOV];
        int n = 0, i, failed = 0;
        int64_t due, now;
        pthread_mutex_lock(&p->mutex);
        while (p->head == NULL) pthread_cond_wait(&p->cond, &p->mutex);
        due = p->head->due_ns;
        pthread_mutex_unlock(&p->mutex);
        sleep_until_ns(due); /* later chunks are never due earlier */
        now = now_ns();
        pthread_mutex_lock(&p->mutex);
        while (p->head != NULL && p->head->due_ns <= now && n < MAX_IOV) {
            struct chunk *ch = p->head;
            p->head = ch->next;
            if (p->head == NULL) p->tail = NULL;
            batch[n++] = ch;
            if (ch->len == 0) break;
        }
        pthread_mutex_unlock(&p->mutex);
        pthread_mutex_lock(&p->stats->mutex);
        for (i = 0; i < n; i++) {
            int64_t late = now - batch[i]->due_ns;
            if (batch[i]->len == 0) continue;
            p->stats->chunks++;
            p->stats->bytes += (long long)batch[i]->len;
            p->stats->sum_late_ns += late;
            if (late > p->stats->max_late_ns) p->stats->max_late_ns = late;
        }
        pthread_mutex_unlock(&p->stats->mutex);
        {
            int count = 0, first = 0;
            for (i = 0; i < n && batch[i]->len > 0; i++) {
                iov[count].iov_base = batch[i]->data;
                iov[count].iov_len = batch[i]->len;
                count++;
            }
            while (count > 0 && !failed) {
                ssize_t w = writev(p->to, iov + first, count);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) {
                    failed = 1;
                    break;
                }
                while (count > 0 && (size_t)w >= iov[first].iov_len) {
                    w -= (ssize_t)iov[first].iov_len;
                    first++;
                    count--;
                }
                if (count > 0) {
                    iov[first].iov_base = (char *)iov[first].iov_base + w;
                    iov[first].iov_len -= (size_t)w;
                }
            }
        }
        for (i = 0; i < n; i++) {
            if (batch[i]->len == 0) done = 1;
            free(batch[i]);
        }
        if (failed) {
            abort_conn(p->conn);
            /* Drain until the reader's end marker so its memory is freed. */
            while (!done) {
                pthread_mutex_lock(&p->mutex);
                while (p->head == NULL) pthread_cond_wait(&p->cond, &p->mutex);
                {
                    struct chunk *ch = p->head;
                    p->head = ch->next;
                    if (p->head == NULL) p->tail = NULL;
                    done = ch->len == 0;
                    free(ch);
                }
                pthread_mutex_unlock(&p->mutex);
            }
        }
    }
    shutdown(p->to, SHUT_WR);
    release(p->conn);
    return NULL;
}

static int connect_upstream(void) {
    struct addrinfo hints, *ai;
    int fd, one = 1;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(target_host, target_port, &hints, &ai) != 0) return -1;
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(t, &attr, fn, arg) != 0) abort();
    pthread_attr_destroy(&attr);
}

static void init_dir(struct pipe_dir *p, struct conn *c, int from, int to, struct stats *s) {
    p->from = from;
    p->to = to;
    p->head = p->tail = NULL;
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->stats = s;
    p->conn = c;
}

static void print_stats(const char *name, struct stats *s) {
    pthread_mutex_lock(&s->mutex);
    fprintf(stderr, "delay_proxy %s: %ld chunks, %lld bytes, late by max %.3f ms, mean %.3f ms (%s scheduling)\n",
            name, s->chunks, s->bytes, s->max_late_ns / 1e6,
            s->chunks ? (double)(s->sum_late_ns / s->chunks) / 1e6 : 0.0, realtime_granted ? "real-time" : "normal");
    pthread_mutex_unlock(&s->mutex);
}

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

int main(int argc, char **argv) {
    struct sockaddr_in addr;
    socklen_t addr_len = sizeof addr;
    struct sigaction sa;
    int listener, one = 1;
    if (argc != 4) {
        fprintf(stderr, "usage: delay_proxy DELAY_MS TARGET_HOST TARGET_PORT\n");
        return 2;
    }
    delay_ns = (int64_t)(atof(argv[1]) * 1e6);
    target_host = argv[2];
    target_port = argv[3];
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    listener = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 16) != 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &addr_len) != 0) {
        perror("delay_proxy: listen");
        return 1;
    }
    printf("port %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    while (!stop_requested) {
        struct pollfd pfd = {listener, POLLIN, 0};
        struct conn *c;
        pthread_t t;
        int client, upstream;
        if (poll(&pfd, 1, 500) <= 0) continue;
        client = accept(listener, NULL, NULL);
        if (client < 0) continue;
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        upstream = connect_upstream();
        if (upstream < 0) {
            fprintf(stderr, "delay_proxy: cannot connect to %s:%s\n", target_host, target_port);
            close(client);
            continue;
        }
        c = calloc(1, sizeof *c);
        if (c == NULL) abort();
        c->client = client;
        c->upstream = upstream;
        pthread_mutex_init(&c->mutex, NULL);
        c->refs = 4;
        init_dir(&c->up, c, client, upstream, &upstream_stats);
        init_dir(&c->down, c, upstream, client, &downstream_stats);
        start(&t, reader, &c->up);
        start(&t, writer, &c->up);
        start(&t, reader, &c->down);
        start(&t, writer, &c->down);
    }
    print_stats("client->broker", &upstream_stats);
    print_stats("broker->client", &downstream_stats);
    return 0;
}
