/*
 * etkmqtt through its C API (libetkmqtt.so), for bench/run. Command line in
 * bench_common.h, plus:
 *
 *   etk_bench publish-call MESSAGES ROUNDS  -> median ns per publish call
 *
 * which times etkmqtt_client_publish alone: QoS 1, 64 bytes, into a client
 * that was never connected (MAXINFLIGHT 65535, no STOREDIR), so each call
 * only checks its arguments and appends to the offline queue. EtkBench.java
 * does the same through JNI; the difference is the JNI overhead.
 *
 * publish: MAXINFLIGHT from inflight= (else the library's default, 20);
 * store=DIR sets STOREDIR (each run has its own client id, so its own
 * store), sync= STORESYNC. etkmqtt_client_publish returns once the message
 * is queued (it blocks while the queue of MAXINFLIGHT + 1000 is full; with
 * STOREDIR, once the message is in the store as STORESYNC says); done_ns is
 * when etkmqtt_client_queued_count() is 0 (QoS 0 taken by the socket, QoS 1
 * acknowledged), polled every 50 us to 5 ms (backing off while it does
 * not change). Nothing outside the engine helps it along.
 *
 *   etk_bench stall-check TRANSPORT         -> "ok" or "stalled N (...)"
 *
 * guards against the QoS 0 stall fixed in 49c9a7b (see stall_check).
 */
#include "bench_common.h"
#include "etkmqtt.h"


struct ctx {
    etkmqtt_client *client;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    struct latency_record *latency;
};

static void on_event(void *user_data, int event) {
    struct ctx *ctx = user_data;
    if (event == ETKMQTT_EVENT_STATUS) {
        pthread_mutex_lock(&ctx->mutex);
        pthread_cond_broadcast(&ctx->cond);
        pthread_mutex_unlock(&ctx->mutex);
    } else if (event == ETKMQTT_EVENT_MESSAGE) {
        etkmqtt_message *message;
        while (etkmqtt_client_read_message(ctx->client, &message) == ETKMQTT_OK) {
            size_t len;
            const uint8_t *payload = etkmqtt_message_payload(message, &len);
            if (ctx->latency != NULL) latency_arrived(ctx->latency, payload, len);
            etkmqtt_message_free(message);
        }
    }
}

static void check(struct ctx *ctx, etkmqtt_result result, const char *what) {
    char text[512] = "";
    if (result == ETKMQTT_OK) return;
    if (ctx->client != NULL) etkmqtt_client_last_call_error(ctx->client, text, sizeof text, NULL);
    fprintf(stderr, "%s: %s %s\n", what, etkmqtt_result_describe(result), text);
    exit(1);
}

static void set(struct ctx *ctx, const char *name, const char *value) {
    check(ctx, etkmqtt_client_set_option(ctx->client, name, value), name);
}

static void make_client_with(struct ctx *ctx, const struct broker *b, const char *id, int inflight) {
    char port[16];
    ctx->client = NULL;
    pthread_mutex_init(&ctx->mutex, NULL);
    pthread_cond_init(&ctx->cond, NULL);
    check(ctx, etkmqtt_client_new(id, b->host, &ctx->client), "etkmqtt_client_new");
    snprintf(port, sizeof port, "%d", b->port);
    set(ctx, "PORT", port);
    if (inflight > 0) {
        char window[16];
        snprintf(window, sizeof window, "%d", inflight);
        set(ctx, "MAXINFLIGHT", window);
    }
    if (b->transport == TRANSPORT_TLS) set(ctx, "CAFILE", b->cafile);
    if (b->transport == TRANSPORT_PSK) {
        set(ctx, "PSK", b->psk_key);
        set(ctx, "PSK-IDENTITY", b->psk_id);
    }
    check(ctx, etkmqtt_client_set_event_callback(ctx->client, on_event, ctx), "set_event_callback");
}

/* The clients of the connect, latency and idle tests: in-flight 20. */
static void make_client(struct ctx *ctx, const struct broker *b, const char *id) {
    make_client_with(ctx, b, id, MAX_INFLIGHT);
}

static void connect_and_wait(struct ctx *ctx) {
    struct timespec deadline = deadline_in_ms(10000);
    int rc = 0;
    check(ctx, etkmqtt_client_connect(ctx->client), "etkmqtt_client_connect");
    pthread_mutex_lock(&ctx->mutex);
    while (etkmqtt_client_status(ctx->client) != ETKMQTT_STATUS_CONNECTED && rc == 0)
        rc = pthread_cond_timedwait(&ctx->cond, &ctx->mutex, &deadline);
    pthread_mutex_unlock(&ctx->mutex);
    if (etkmqtt_client_status(ctx->client) != ETKMQTT_STATUS_CONNECTED) {
        char text[512] = "";
        etkmqtt_client_last_error(ctx->client, text, sizeof text, NULL);
        fprintf(stderr, "not connected: %s\n", text);
        exit(1);
    }
}

/* Regression check for the QoS 0 stall fixed in 49c9a7b: the I/O thread
 * used to stop at its 64 KiB high-water mark after the socket had taken
 * everything and sleep until the next keep-alive (60 s), so a publisher
 * blocked on a full queue failed with ETKMQTT_QUEUE_FULL after
 * CONNECTTIMEOUT. QoS 0, 1 KiB, 20 000 messages, CONNECTTIMEOUT 2: prints
 * "ok", or "stalled MESSAGES_LEFT (...)" if the bug is back. */
static int stall_check(const struct broker *b) {
    struct ctx ctx = {0};
    unsigned char payload[1024] = {0};
    int64_t progress;
    size_t left, now_left;
    int i;
    make_client(&ctx, b, "etk-c-stall-check");
    set(&ctx, "CONNECTTIMEOUT", "2");
    connect_and_wait(&ctx);
    for (i = 0; i < 20000; i++) {
        etkmqtt_result r = etkmqtt_client_publish(ctx.client, "bench/etk-c", payload, sizeof payload, 0, false);
        if (r == ETKMQTT_QUEUE_FULL) {
            printf("stalled %zu (publish %d of 20000 failed: queue full)\n",
                   etkmqtt_client_queued_count(ctx.client), i + 1);
            etkmqtt_client_free(ctx.client);
            return 0;
        }
        check(&ctx, r, "publish");
    }
    left = etkmqtt_client_queued_count(ctx.client);
    progress = now_ns();
    while ((now_left = etkmqtt_client_queued_count(ctx.client)) > 0) {
        if (now_left != left) {
            left = now_left;
            progress = now_ns();
        } else if (now_ns() - progress > 2000000000LL) {
            printf("stalled %zu (after the last publish)\n", now_left);
            etkmqtt_client_free(ctx.client);
            return 0;
        }
        sleep_ns(100000);
    }
    printf("ok\n");
    etkmqtt_client_free(ctx.client);
    return 0;
}

static int publish_run(const struct broker *b, const struct publish_args *a) {
    struct ctx ctx = {0};
    struct measurement m;
    unsigned char *payload = calloc(1, (size_t)a->size + 1);
    char id[64];
    int64_t deadline;
    int i;
    snprintf(id, sizeof id, "etk-c-%d", (int)getpid());
    make_client_with(&ctx, b, id, a->inflight);
    if (a->store_dir != NULL) set(&ctx, "STOREDIR", a->store_dir);
    if (a->store_sync != NULL) set(&ctx, "STORESYNC", a->store_sync);
    connect_and_wait(&ctx);
    measure_start(&m);
    for (i = 0; i < a->messages; i++) {
        pace(a, &m, i);
        check(&ctx, etkmqtt_client_publish(ctx.client, a->topic, payload, (size_t)a->size, a->qos, false),
              "etkmqtt_client_publish");
    }
    measure_wait_begins(&m);
    deadline = now_ns() + DRAIN_TIMEOUT_NS;
    {
        /* etkmqtt has no "all acknowledged" callback: poll, quickly while
         * the count moves and backing off to 5 ms while it does not (a slow
         * link), so the polling costs little CPU and at most 5 ms. */
        size_t left = etkmqtt_client_queued_count(ctx.client), now_left;
        int64_t pause = 50000;
        while (left > 0) {
            if (now_ns() > deadline) die("messages never acknowledged");
            sleep_ns(pause);
            now_left = etkmqtt_client_queued_count(ctx.client);
            pause = now_left != left ? 50000 : (pause * 2 > 5000000 ? 5000000 : pause * 2);
            left = now_left;
        }
    }
    measure_end(&m, a->messages);
    wait_for_harness();
    etkmqtt_client_free(ctx.client);
    free(payload);
    return 0;
}

static int connect_time(const struct broker *b, int rounds) {
    double *ms = malloc(sizeof(double) * (size_t)rounds);
    int i;
    for (i = 0; i < rounds; i++) {
        struct ctx ctx = {0};
        char id[64];
        int64_t start = now_ns();
        snprintf(id, sizeof id, "etk-c-connect-%d-%d", (int)getpid(), i);
        make_client(&ctx, b, id);
        connect_and_wait(&ctx);
        ms[i] = (now_ns() - start) / 1e6;
        etkmqtt_client_free(ctx.client);
    }
    printf("%.2f\n", percentile(ms, rounds, 0.5));
    return 0;
}

static int latency(const struct broker *b, int rate, int messages) {
    struct ctx ctx = {0};
    struct latency_record record;
    char id[64];
    int rc;
    latency_init(&record, messages);
    ctx.latency = &record;
    snprintf(id, sizeof id, "etk-c-latency-%d", (int)getpid());
    make_client(&ctx, b, id);
    connect_and_wait(&ctx);
    check(&ctx, etkmqtt_client_subscribe(ctx.client, "bench/latency/etk-c", 1), "subscribe");
    sleep_ns(200000000LL); /* let the SUBACK arrive */
    PACED_PUBLISH(rate, messages,
                  check(&ctx, etkmqtt_client_publish(ctx.client, "bench/latency/etk-c", payload_,
                                                     LATENCY_PAYLOAD, 1, false), "publish"));
    rc = latency_report(&record);
    etkmqtt_client_free(ctx.client);
    return rc;
}

static int idle_rss(const struct broker *b) {
    struct ctx ctx = {0};
    long rss = vm_rss_kib(), anon = status_kib("RssAnon"), file = status_kib("RssFile");
    make_client(&ctx, b, "etk-c-idle");
    connect_and_wait(&ctx);
    sleep_ns(2000000000LL);
    print_rss_increase(rss, anon, file);
    etkmqtt_client_free(ctx.client);
    return 0;
}

static int publish_call(int messages, int rounds) {
    double *ns = malloc(sizeof(double) * (size_t)rounds);
    unsigned char payload[64] = {0};
    int r, i;
    for (r = 0; r < rounds; r++) {
        struct ctx ctx = {0};
        int64_t start;
        check(&ctx, etkmqtt_client_new("etk-c-publish-call", "127.0.0.1", &ctx.client), "new");
        set(&ctx, "MAXINFLIGHT", "65535");
        start = now_ns();
        for (i = 0; i < messages; i++)
            check(&ctx, etkmqtt_client_publish(ctx.client, "bench/publish-call", payload, sizeof payload, 1,
                                               false), "publish");
        ns[r] = (double)(now_ns() - start) / messages;
        etkmqtt_client_free(ctx.client);
    }
    printf("%.1f\n", percentile(ns, rounds, 0.5));
    return 0;
}

int main(int argc, char **argv) {
    static const struct bench_modes modes = {publish_run, connect_time, latency, idle_rss};
    const char *mode = argc > 1 ? argv[1] : "";
    int rc;
    if (run_common_mode(&modes, argc, argv, &rc)) {
        return rc;
    } else if (strcmp(mode, "stall-check") == 0 && argc == 3) {
        struct broker b = broker_for(argv[2]);
        return stall_check(&b);
    } else if (strcmp(mode, "publish-call") == 0 && argc == 4) {
        return publish_call(atoi(argv[2]), atoi(argv[3]));
    }
    fprintf(stderr, "usage: see bench/c/bench_common.h\n");
    return 2;
}
