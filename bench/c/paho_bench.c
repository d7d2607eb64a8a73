/*
 * Eclipse Paho C MQTTAsync (Debian libpaho-mqtt-dev, libpaho-mqtt3as) for
 * bench/run. Command line in bench_common.h.
 *
 * Settings: MQTT 3.1.1, connectOptions.maxInflight 20 (publish: inflight=,
 * or the library's default, 65535), no persistence (publish: store=DIR
 * gives MQTTCLIENT_PERSISTENCE_DEFAULT, Paho's file persistence, in DIR),
 * tcp:// or ssl:// URIs; certificate TLS with trustStore = CA file,
 * enableServerCertAuth 1 and verify 1 (host name check, as the others do);
 * TLS-PSK through MQTTAsync_SSLOptions.ssl_psk_cb (struct_version >= 4),
 * enableServerCertAuth 0, default ciphers.
 *
 * Completion: MQTTAsync_send queues the command (retried after a short
 * sleep if the library answers MQTTASYNC_MAX_MESSAGES_INFLIGHT or
 * MQTTASYNC_MAX_BUFFERED_MESSAGES); done_ns is when the onSuccess
 * callback of every send has run: QoS 1 on PUBACK, QoS 0 once written.
 * For QoS 1 the program keeps at most maxInflight sends outstanding
 * and waits for an onSuccess before the next: with more queued, Paho
 * 1.3.12 sends the queued ones at a few hundred per second (it waits on a
 * timer between them), which measures that timer, not the protocol.
 */
#include "bench_common.h"

#include <MQTTAsync.h>

struct ctx {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int connected;
    int disconnected;
    long published;
    long target;
    long sent;
    int window; /* > 0: at most this many sends not yet completed */
    int max_inflight;
    const struct broker *broker;
    struct latency_record *latency;
};

static void on_connect(void *context, MQTTAsync_successData *response) {
    struct ctx *ctx = context;
    (void)response;
    pthread_mutex_lock(&ctx->mutex);
    ctx->connected = 1;
    pthread_cond_broadcast(&ctx->cond);
    pthread_mutex_unlock(&ctx->mutex);
}

static void on_connect_failure(void *context, MQTTAsync_failureData *response) {
    struct ctx *ctx = context;
    fprintf(stderr, "paho connect failed: %d %s\n", response ? response->code : 0,
            response && response->message ? response->message : "");
    pthread_mutex_lock(&ctx->mutex);
    ctx->connected = -1;
    pthread_cond_broadcast(&ctx->cond);
    pthread_mutex_unlock(&ctx->mutex);
}

static void on_disconnect(void *context, MQTTAsync_successData *response) {
    struct ctx *ctx = context;
    (void)response;
    pthread_mutex_lock(&ctx->mutex);
    ctx->disconnected = 1;
    pthread_cond_broadcast(&ctx->cond);
    pthread_mutex_unlock(&ctx->mutex);
}

static void on_sent(void *context, MQTTAsync_successData *response) {
    struct ctx *ctx = context;
    (void)response;
    pthread_mutex_lock(&ctx->mutex);
    ++ctx->published;
    if (ctx->published == ctx->target || ctx->window > 0) pthread_cond_broadcast(&ctx->cond);
    pthread_mutex_unlock(&ctx->mutex);
}

static void on_send_failure(void *context, MQTTAsync_failureData *response) {
    (void)context;
    fprintf(stderr, "paho send failed: %d\n", response ? response->code : 0);
    exit(1);
}

static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *m) {
    struct ctx *ctx = context;
    (void)topic_len;
    if (ctx->latency != NULL) latency_arrived(ctx->latency, m->payload, (size_t)m->payloadlen);
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static unsigned int on_psk(const char *hint, char *identity, unsigned int max_identity_len, unsigned char *psk,
                           unsigned int max_psk_len, void *u) {
    const struct broker *b = u;
    int len;
    (void)hint;
    if (strlen(b->psk_id) + 1 > max_identity_len) return 0;
    strcpy(identity, b->psk_id);
    len = hex_to_bytes(b->psk_key, psk, max_psk_len);
    return len < 0 ? 0 : (unsigned int)len;
}

/* store_dir NULL: no persistence; else Paho's file persistence there. */
static MQTTAsync make_client_with(struct ctx *ctx, const struct broker *b, const char *id, const char *store_dir) {
    MQTTAsync client;
    char uri[256];
    int rc;
    memset(ctx, 0, sizeof *ctx);
    pthread_mutex_init(&ctx->mutex, NULL);
    pthread_cond_init(&ctx->cond, NULL);
    ctx->broker = b;
    snprintf(uri, sizeof uri, "%s://%s:%d", b->transport == TRANSPORT_TCP ? "tcp" : "ssl", b->host, b->port);
    rc = MQTTAsync_create(&client, uri, id, store_dir ? MQTTCLIENT_PERSISTENCE_DEFAULT : MQTTCLIENT_PERSISTENCE_NONE,
                          (void *)store_dir);
    if (rc != MQTTASYNC_SUCCESS) die("MQTTAsync_create failed");
    MQTTAsync_setCallbacks(client, ctx, NULL, on_message, NULL);
    return client;
}

static MQTTAsync make_client(struct ctx *ctx, const struct broker *b, const char *id) {
    return make_client_with(ctx, b, id, NULL);
}

/* inflight 0: the library's default maxInflight (65535). */
static void connect_with(MQTTAsync client, struct ctx *ctx, const struct broker *b, int inflight) {
    MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    struct timespec deadline = deadline_in_ms(10000);
    int rc = 0;
    options.keepAliveInterval = 60;
    options.cleansession = 1;
    if (inflight > 0) options.maxInflight = inflight;
    ctx->max_inflight = options.maxInflight;
    options.MQTTVersion = MQTTVERSION_3_1_1;
    options.onSuccess = on_connect;
    options.onFailure = on_connect_failure;
    options.context = ctx;
    if (b->transport == TRANSPORT_TLS) {
        ssl.trustStore = b->cafile;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1;
        options.ssl = &ssl;
    } else if (b->transport == TRANSPORT_PSK) {
        ssl.enableServerCertAuth = 0;
        ssl.ssl_psk_cb = on_psk;
        ssl.ssl_psk_context = (void *)b;
        options.ssl = &ssl;
    }
    rc = MQTTAsync_connect(client, &options);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "MQTTAsync_connect: %d\n", rc);
        exit(1);
    }
    rc = 0;
    pthread_mutex_lock(&ctx->mutex);
    while (ctx->connected == 0 && rc == 0) rc = pthread_cond_timedwait(&ctx->cond, &ctx->mutex, &deadline);
    pthread_mutex_unlock(&ctx->mutex);
    if (ctx->connected != 1) die("paho: not connected");
}

/* The clients of the connect, latency and idle tests: in-flight 20. */
static void connect_and_wait(MQTTAsync client, struct ctx *ctx, const struct broker *b) {
    connect_with(client, ctx, b, MAX_INFLIGHT);
}

static void finish(MQTTAsync client, struct ctx *ctx) {
    MQTTAsync_disconnectOptions options = MQTTAsync_disconnectOptions_initializer;
    struct timespec deadline = deadline_in_ms(5000);
    int rc = 0;
    options.onSuccess = on_disconnect;
    options.context = ctx;
    options.timeout = 1000;
    if (MQTTAsync_disconnect(client, &options) == MQTTASYNC_SUCCESS) {
        pthread_mutex_lock(&ctx->mutex);
        while (!ctx->disconnected && rc == 0) rc = pthread_cond_timedwait(&ctx->cond, &ctx->mutex, &deadline);
        pthread_mutex_unlock(&ctx->mutex);
    }
    MQTTAsync_destroy(&client);
}

/* Sends one message; waits briefly and retries while the library is full. */
static void send_one(MQTTAsync client, struct ctx *ctx, const char *topic, void *payload, int len, int qos) {
    MQTTAsync_responseOptions response = MQTTAsync_responseOptions_initializer;
    int rc;
    if (ctx->window > 0) {
        pthread_mutex_lock(&ctx->mutex);
        while (ctx->sent - ctx->published >= ctx->window) pthread_cond_wait(&ctx->cond, &ctx->mutex);
        pthread_mutex_unlock(&ctx->mutex);
    }
    ctx->sent++;
    response.onSuccess = on_sent;
    response.onFailure = on_send_failure;
    response.context = ctx;
    while ((rc = MQTTAsync_send(client, topic, len, payload, qos, 0, &response)) ==
               MQTTASYNC_MAX_MESSAGES_INFLIGHT ||
           rc == MQTTASYNC_MAX_BUFFERED_MESSAGES)
        sleep_ns(20000);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "MQTTAsync_send: %d\n", rc);
        exit(1);
    }
}

static int publish_run(const struct broker *b, const struct publish_args *a) {
    struct ctx ctx;
    struct measurement m;
    MQTTAsync client;
    unsigned char *payload = calloc(1, (size_t)a->size + 1);
    int i;
    char id[64];
    if (a->store_sync != NULL) die("paho: no sync setting (its file persistence never calls fsync)");
    snprintf(id, sizeof id, "paho-%d", (int)getpid());
    client = make_client_with(&ctx, b, id, a->store_dir);
    connect_with(client, &ctx, b, a->inflight);
    ctx.target = a->messages;
    /* Paho works through queued QoS 1 sends slowly (about 200 msg/s here)
     * once more than maxInflight wait: keep at most maxInflight outstanding,
     * as a Paho application has to. */
    ctx.window = a->qos > 0 ? ctx.max_inflight : 0;
    measure_start(&m);
    for (i = 0; i < a->messages; i++) {
        pace(a, &m, i);
        send_one(client, &ctx, a->topic, payload, a->size, a->qos);
    }
    measure_wait_begins(&m);
    await_count(&ctx.mutex, &ctx.cond, &ctx.published, a->messages);
    measure_end(&m, a->messages);
    wait_for_harness();
    finish(client, &ctx);
    free(payload);
    return 0;
}

static int connect_time(const struct broker *b, int rounds) {
    double *ms = malloc(sizeof(double) * (size_t)rounds);
    int i;
    for (i = 0; i < rounds; i++) {
        struct ctx ctx;
        MQTTAsync client;
        char id[64];
        int64_t start = now_ns();
        snprintf(id, sizeof id, "paho-connect-%d-%d", (int)getpid(), i);
        client = make_client(&ctx, b, id);
        connect_and_wait(client, &ctx, b);
        ms[i] = (now_ns() - start) / 1e6;
        finish(client, &ctx);
    }
    printf("%.2f\n", percentile(ms, rounds, 0.5));
    return 0;
}

static int latency(const struct broker *b, int rate, int messages) {
    struct ctx ctx;
    struct latency_record record;
    MQTTAsync client;
    char id[64];
    int rc;
    latency_init(&record, messages);
    snprintf(id, sizeof id, "paho-latency-%d", (int)getpid());
    client = make_client(&ctx, b, id);
    ctx.latency = &record;
    connect_and_wait(client, &ctx, b);
    if (MQTTAsync_subscribe(client, "bench/latency/paho", 1, NULL) != MQTTASYNC_SUCCESS) die("subscribe");
    sleep_ns(200000000LL);
    ctx.target = -1;
    PACED_PUBLISH(rate, messages, send_one(client, &ctx, "bench/latency/paho", payload_, LATENCY_PAYLOAD, 1));
    rc = latency_report(&record);
    finish(client, &ctx);
    return rc;
}

static int idle_rss(const struct broker *b) {
    struct ctx ctx;
    MQTTAsync client;
    long rss = vm_rss_kib(), anon = status_kib("RssAnon"), file = status_kib("RssFile");
    client = make_client(&ctx, b, "paho-idle");
    connect_and_wait(client, &ctx, b);
    sleep_ns(2000000000LL);
    print_rss_increase(rss, anon, file);
    finish(client, &ctx);
    return 0;
}

int main(int argc, char **argv) {
    static const struct bench_modes modes = {publish_run, connect_time, latency, idle_rss};
    int rc;
    if (run_common_mode(&modes, argc, argv, &rc)) return rc;
    fprintf(stderr, "usage: see bench/c/bench_common.h\n");
    return 2;
}
