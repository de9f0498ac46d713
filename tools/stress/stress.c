/*
 * stress: load generator for the epchat line protocol (see docs/protocol.md and docs/performance.md).
 *
 * Single-threaded, epoll, non-blocking sockets; OpenSSL for --tls (libssl-dev). Build:
 *   cc -O2 -Wall -Wextra -o build-tools/stress tools/stress/stress.c -lssl -lcrypto
 *
 * Every chat message carries "SENDER SEQ SEND_NS " padded with 'x' to --size bytes, so the receiving
 * side (also this process) measures end-to-end latency, counts deliveries and detects losses,
 * misroutes and out-of-order deliveries (per sender, per receiver).
 *
 * With --proto irc it speaks IRC instead (RFC 1459/2812 subset): NICK + USER, waits for 001 (answering
 * PING, ignoring other numerics), optionally OPER + MODE (--irc-oper, --irc-umode: ngIRCd throttles
 * users without +F), JOINs the scenario's channels (#bench when there is one room), sends
 * "PRIVMSG #chan :<payload>" and parses the PRIVMSG lines it receives exactly as the line mode parses
 * "nick: <payload>". The line protocol mode is unchanged.
 *
 * Transports (either protocol): plain TCP (default); --tls: TLS over the same non-blocking sockets and
 * epoll loop (OpenSSL, no certificate verification: the bench uses a self-signed dev certificate);
 * --ws [--ws-protocol NAME]: WebSocket (RFC 6455): an HTTP/1.1 Upgrade, then one masked client frame per
 * line sent and each server message (text or binary frame, fragments joined) parsed as line(s), so a
 * delivery is counted exactly as over TCP. --tls --ws is WebSocket over TLS.
 *
 * Exit status: 0 ok; 1 usage; 2 connection failure, protocol error or timeout; 3 the run finished but
 * saw losses, out-of-order, misrouted or corrupt deliveries.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_LINE (1u << 20)
#define HIST_BUCKETS 3776
#define NS_PER_S 1000000000ull

/* ------------------------------------------------------------------------------------------------ */
/* configuration                                                                                     */

typedef struct {
    const char *host;
    int port;
    const char *scenario;
    int clients, senders, window, size, rooms, room_size, talkers, parallel, messages;
    int connect_parallel, askers, ask_burst;
    double ask_rate;
    double rate, duration, warmup, timeout, drain;
    pid_t server_pid;
    bool json;
    char tag[8];
    bool irc;               /* --proto irc */
    const char *irc_oper;   /* --irc-oper NAME:PASS: senders become IRC operators after 001 */
    const char *irc_umode;  /* --irc-umode MODES: then set these user modes (e.g. +F on ngIRCd) */
    bool tls;               /* --tls: TLS client (no verification) */
    bool ws;                /* --ws: WebSocket client */
    const char *ws_protocol; /* --ws-protocol NAME: the Sec-WebSocket-Protocol asked for (none by default) */
    const char *ws_path;    /* --ws-path PATH (default /) */
} config_t;

static config_t cfg = {
    .host = "127.0.0.1", .port = 0, .scenario = "fanout",
    .clients = -1, .senders = -1, .window = -1, .size = -1, .rooms = -1, .room_size = -1,
    .talkers = -1, .parallel = -1, .messages = -1, .connect_parallel = 256, .askers = -1, .ask_rate = -1, .ask_burst = -1,
    .rate = 0, .duration = -1, .warmup = -1, .timeout = -1, .drain = 5,
    .server_pid = 0, .json = false, .tag = "", .ws_path = "/",
};

/* ------------------------------------------------------------------------------------------------ */
/* small utilities                                                                                    */

static const char *g_phase = "start";

static void die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "stress: %s [%s, phase %s]: ", code == 1 ? "usage" : "error", cfg.scenario, g_phase);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p)
        die(2, "out of memory");
    return p;
}

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_append(buf_t *b, const char *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            die(2, "out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void buf_free(buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* log-linear histogram of nanoseconds: exact below 128, then 64 sub-buckets per power of two       */

typedef struct {
    uint64_t count[HIST_BUCKETS];
    uint64_t n, max, sum;
} hist_t;

static int hist_index(uint64_t v)
{
    if (v < 128)
        return (int)v;
    int e = 63 - __builtin_clzll(v);
    return (e - 6) * 64 + (int)(v >> (e - 6));
}

static uint64_t hist_value(int idx)
{
    if (idx < 128)
        return (uint64_t)idx;
    int shift = idx / 64 - 1;
    uint64_t m = (uint64_t)(idx % 64 + 64);
    return (m << shift) + ((1ull << shift) >> 1);
}

static void hist_add(hist_t *h, uint64_t v)
{
    h->count[hist_index(v)]++;
    h->n++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
}

static uint64_t hist_pct(const hist_t *h, double p)
{
    if (!h->n)
        return 0;
    uint64_t want = (uint64_t)(p / 100.0 * (double)h->n);
    if (want >= h->n)
        want = h->n - 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen > want)
            return hist_value(i) < h->max ? hist_value(i) : h->max;
    }
    return h->max;
}

/* ------------------------------------------------------------------------------------------------ */
/* server process probes (/proc/PID)                                                                  */

static uint64_t proc_cpu_ns(pid_t pid)
{
    if (pid <= 0)
        return 0;
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        die(2, "cannot read %s: %s (is --server-pid right?)", path, strerror(errno));
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    char *p = strrchr(line, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        die(2, "cannot parse %s", path);
    long hz = sysconf(_SC_CLK_TCK);
    return (ut + st) * (NS_PER_S / (uint64_t)hz);
}

static uint64_t proc_rss_kb(pid_t pid)
{
    if (pid <= 0)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        die(2, "cannot read %s: %s", path, strerror(errno));
    unsigned long long size = 0, rss = 0;
    int ok = fscanf(f, "%llu %llu", &size, &rss);
    fclose(f);
    if (ok != 2)
        die(2, "cannot parse %s", path);
    return rss * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

static uint64_t self_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NS_PER_S +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

/* ------------------------------------------------------------------------------------------------ */
/* connections                                                                                        */

enum {
    ST_FREE, ST_CONNECTING, ST_TLS, ST_UPGRADE, ST_PROMPT, ST_WELCOME, ST_REG, ST_JOINING, ST_READY, ST_QUIT, ST_CLOSED
};

typedef struct {
    int fd, idx, state, room;
    uint32_t events;
    bool slow;
    uint64_t *next_seq; /* per sender slot of this connection's room: next expected sequence */
    buf_t part, out;
    size_t out_off;
    uint64_t t_start;
    char nick[32];
    bool sender;      /* irc: some sender_t sends through this connection */
    uint8_t irc_step; /* irc registration: 0 waiting for 001, 1 for 381 (OPER), 2 for our MODE */
    SSL *ssl;         /* --tls */
    bool hs_want_write; /* TLS handshake waits for the socket to be writable */
    bool ws_open;     /* --ws: the upgrade is done; writes are framed */
    buf_t wsin;       /* --ws: the HTTP response, then a partial frame */
    buf_t wsmsg;      /* --ws: a fragmented message being joined */
    uint32_t mask;    /* --ws: the masking key generator's state */
    uint32_t gen;     /* bumped when closed: input of a closed connection stops (churn reopens at once) */
} conn_t;

typedef struct {
    int conn, room, slot, recipients;
    uint64_t next_seq, done_seq;
    uint32_t *rem;  /* ring of --window: recipients still to receive */
    uint64_t *ts;   /* ring of --window: send time */
} sender_t;

typedef struct {
    int first, members, nsenders, first_sender, slow;
    char name[40];
} room_t;

static struct {
    int epfd;
    struct sockaddr_in addr;
    conn_t *conns;
    int nconns;
    sender_t *senders;
    int nsenders;
    room_t *rooms;
    int nrooms;
    /* progress counters */
    int connecting, registered, joined, next_connect;
    /* run window */
    bool sending;
    uint64_t t_run, t_m0, t_m1;
    /* results */
    uint64_t sent, sent_win, expected, deliveries, deliv_win;
    uint64_t ooo, misrouted, corrupt, completed;
    uint64_t cycles, cycles_win;
    hist_t lat, done_lat;
    uint64_t rss_max, slow_bye_ns, last_delivery;
    bool slow_bye;
} g;

static char scratch[1 << 16];

/* A slow reader stops reading once registered (line) or once it has joined (irc: it must read the
 * JOIN echo first). */
static bool not_reading(const conn_t *c)
{
    return c->slow && (cfg.irc ? c->state == ST_READY : c->state >= ST_REG);
}

static void conn_set_events(conn_t *c)
{
    uint32_t ev = not_reading(c) ? EPOLLRDHUP : EPOLLIN;
    if (c->state == ST_CONNECTING || (c->state == ST_TLS && c->hs_want_write) ||
        (c->state != ST_TLS && c->out.len > c->out_off))
        ev |= EPOLLOUT;
    if (ev == c->events)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(g.epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
        die(2, "epoll_ctl: %s", strerror(errno));
    c->events = ev;
}

/* ---- transport: TCP or TLS ----------------------------------------------------------------------- */

static SSL_CTX *g_tls;

static const char *tls_error(void)
{
    static char msg[256];
    unsigned long e = ERR_get_error();
    if (!e)
        return errno ? strerror(errno) : "connection closed";
    ERR_error_string_n(e, msg, sizeof msg);
    ERR_clear_error();
    return msg;
}

static void tls_init(void)
{
    g_tls = SSL_CTX_new(TLS_client_method());
    if (!g_tls)
        die(2, "SSL_CTX_new: %s", tls_error());
    SSL_CTX_set_min_proto_version(g_tls, TLS1_2_VERSION);
    SSL_CTX_set_verify(g_tls, SSL_VERIFY_NONE, NULL); /* the bench's self-signed dev certificate */
    SSL_CTX_set_options(g_tls, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(g_tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* One read() for many records rather than two (header, then body) per record; what OpenSSL then
     * holds is read out while SSL_has_pending (epoll cannot see it). */
    SSL_CTX_set_read_ahead(g_tls, 1);
}

/* Writes up to n bytes: the count written, 0 when the socket would block, dies on an error. */
static size_t io_send(conn_t *c, const char *p, size_t n)
{
    if (c->ssl) {
        ERR_clear_error();
        int w = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (w > 0)
            return (size_t)w;
        int err = SSL_get_error(c->ssl, w);
        if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
            return 0;
        die(2, "client %d (%s): TLS write failed: %s", c->idx, c->nick, tls_error());
    }
    for (;;) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0)
            return (size_t)w;
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        die(2, "client %d (%s): write failed: %s", c->idx, c->nick, w < 0 ? strerror(errno) : "wrote nothing");
    }
}

/* Reads into p: the count read, 0 at EOF, -1 when nothing is there now; dies on an error. */
static ssize_t io_recv(conn_t *c, char *p, size_t n)
{
    if (c->ssl) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (r > 0)
            return r;
        int err = SSL_get_error(c->ssl, r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            return -1;
        if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno == 0))
            return 0;
        die(2, "client %d (%s): TLS read failed: %s", c->idx, c->nick, tls_error());
    }
    for (;;) {
        ssize_t r = read(c->fd, p, n);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -1;
        die(2, "client %d (%s): read failed: %s", c->idx, c->nick, strerror(errno));
    }
}

static void conn_flush(conn_t *c)
{
    while (c->out_off < c->out.len) {
        size_t n = io_send(c, c->out.p + c->out_off, c->out.len - c->out_off);
        if (n == 0)
            break;
        c->out_off += n;
    }
    if (c->out_off == c->out.len)
        c->out.len = c->out_off = 0;
    if (c->state != ST_CONNECTING && c->state != ST_TLS)
        conn_set_events(c);
}

/* Bytes as they go on the wire (after the WebSocket framing); flushed at once unless some are queued. */
static void conn_write_raw(conn_t *c, const char *data, size_t n)
{
    bool idle = c->out.len == c->out_off;
    buf_append(&c->out, data, n);
    if (idle && c->state != ST_CONNECTING && c->state != ST_TLS)
        conn_flush(c);
}

/* ---- WebSocket client framing (RFC 6455) ---------------------------------------------------------- */

static void ws_frame(conn_t *c, int opcode, const char *p, size_t n)
{
    unsigned char h[14];
    size_t hl = 2;
    h[0] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        h[1] = (unsigned char)(0x80 | n);
    } else if (n <= 0xffff) {
        h[1] = 0x80 | 126;
        h[2] = (unsigned char)(n >> 8);
        h[3] = (unsigned char)n;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
        hl = 10;
    }
    c->mask ^= c->mask << 13; /* xorshift32: a masking key per frame */
    c->mask ^= c->mask >> 17;
    c->mask ^= c->mask << 5;
    memcpy(h + hl, &c->mask, 4);
    const unsigned char *key = h + hl;
    hl += 4;
    bool idle = c->out.len == c->out_off;
    buf_append(&c->out, (const char *)h, hl);
    size_t at = c->out.len;
    buf_append(&c->out, p, n);
    unsigned char *q = (unsigned char *)c->out.p + at;
    for (size_t i = 0; i < n; i++)
        q[i] ^= key[i & 3];
    if (idle && c->state != ST_CONNECTING && c->state != ST_TLS)
        conn_flush(c);
}

/* Text the protocol layers write, one or more lines ending in \n (or \r\n); over WebSocket each line
 * becomes one message without its line end (the IRCv3 websocket spec; epchat.line likewise). */
static void conn_write(conn_t *c, const char *data, size_t n)
{
    if (!c->ws_open) {
        conn_write_raw(c, data, n);
        return;
    }
    int opcode = cfg.ws_protocol && strcmp(cfg.ws_protocol, "binary.ircv3.net") == 0 ? 2 : 1;
    const char *end = data + n;
    while (data < end) {
        const char *nl = memchr(data, '\n', (size_t)(end - data));
        size_t len = (size_t)((nl ? nl : end) - data);
        size_t text = len && data[len - 1] == '\r' ? len - 1 : len;
        ws_frame(c, opcode, data, text);
        data += len + (nl != NULL);
    }
}

static void conn_printf(conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_printf(conn_t *c, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    conn_write(c, line, (size_t)n);
}

static void conn_open(conn_t *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die(2, "socket: %s (open files limit?)", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&g.addr, sizeof g.addr) < 0 && errno != EINPROGRESS)
        die(2, "connect to %s:%d failed: %s", cfg.host, cfg.port, strerror(errno));
    c->fd = fd;
    c->state = ST_CONNECTING;
    c->irc_step = 0;
    c->ws_open = false;
    c->hs_want_write = false;
    c->mask = 0x9e3779b9u ^ (uint32_t)(c->idx * 2654435761u) ^ (uint32_t)now_ns();
    if (!c->mask)
        c->mask = 1;
    c->events = EPOLLOUT;
    c->t_start = now_ns();
    struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, fd, &e) < 0)
        die(2, "epoll_ctl add: %s", strerror(errno));
    g.connecting++;
}

static void transport_ready(conn_t *c);
static void tls_handshake(conn_t *c);
static void conn_read(conn_t *c);

static void conn_close(conn_t *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    c->wsin.len = c->wsmsg.len = 0;
    c->ws_open = false;
    c->gen++;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = ST_CLOSED;
    c->part.len = 0;
    c->out.len = c->out_off = 0;
    c->events = 0;
}

static void conn_connected(conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err)
        die(2, "client %d: connect to %s:%d failed: %s", c->idx, cfg.host, cfg.port, strerror(err));
    if (cfg.tls) {
        c->ssl = SSL_new(g_tls);
        if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
            die(2, "client %d: SSL_new: %s", c->idx, tls_error());
        SSL_set_connect_state(c->ssl);
        c->state = ST_TLS;
        tls_handshake(c);
        return;
    }
    transport_ready(c);
}

/* The protocol starts: the line protocol waits for its prompt, IRC registers. */
static void proto_start(conn_t *c)
{
    c->state = cfg.irc ? ST_WELCOME : ST_PROMPT;
    conn_set_events(c);
    if (c->out.len)
        conn_flush(c);
    if (cfg.irc)
        conn_printf(c, "NICK %s\r\nUSER %s 0 * :stress\r\n", c->nick, c->nick);
}

/* TCP (and TLS) is up: WebSocket asks for the upgrade, with the RFC's sample key (so the expected
 * Sec-WebSocket-Accept is a constant); the others start their protocol. */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static void transport_ready(conn_t *c)
{
    if (!cfg.ws) {
        proto_start(c);
        return;
    }
    c->state = ST_UPGRADE;
    conn_set_events(c);
    char req[512], proto[160] = "";
    if (cfg.ws_protocol)
        snprintf(proto, sizeof proto, "Sec-WebSocket-Protocol: %s\r\n", cfg.ws_protocol);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\nOrigin: %s://%s:%d\r\n%s\r\n",
                     cfg.ws_path, cfg.host, cfg.port, cfg.tls ? "https" : "http", cfg.host, cfg.port, proto);
    conn_write_raw(c, req, (size_t)n);
}

static void tls_handshake(conn_t *c)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->hs_want_write = false;
        transport_ready(c);
        if (c->ssl && SSL_has_pending(c->ssl)) /* read ahead with the handshake: epoll will not say so */
            conn_read(c);
        return;
    }
    int err = SSL_get_error(c->ssl, r);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
        die(2, "client %d: TLS handshake with %s:%d failed: %s", c->idx, cfg.host, cfg.port, tls_error());
    c->hs_want_write = err == SSL_ERROR_WANT_WRITE;
    conn_set_events(c);
}

/* ------------------------------------------------------------------------------------------------ */
/* message format                                                                                     */

static size_t format_message(char *dst, size_t cap, int sender, uint64_t seq, uint64_t ts)
{
    int n = snprintf(dst, cap, "%d %llu %llu ", sender, (unsigned long long)seq, (unsigned long long)ts);
    size_t len = (size_t)n;
    while (len < (size_t)cfg.size && len + 1 < cap)
        dst[len++] = 'x';
    dst[len++] = '\n';
    return len;
}

static const char *parse_u64(const char *p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == start || p >= end || *p != ' ')
        return NULL;
    *out = v;
    return p + 1;
}

/* ------------------------------------------------------------------------------------------------ */
/* sending and delivery accounting                                                                    */

static bool in_window(uint64_t t)
{
    return t >= g.t_m0 && t < g.t_m1;
}

static void send_message(sender_t *s)
{
    char line[MAX_LINE < 70000 ? MAX_LINE : 70000];
    uint64_t t = now_ns();
    size_t n = format_message(line, sizeof line, (int)(s - g.senders), s->next_seq, t);
    if (cfg.window > 0) {
        size_t slot = s->next_seq % (uint64_t)cfg.window;
        s->rem[slot] = (uint32_t)s->recipients;
        s->ts[slot] = t;
    }
    s->next_seq++;
    g.sent++;
    g.expected += (uint64_t)s->recipients;
    if (in_window(t))
        g.sent_win++;
    if (cfg.irc) {
        char msg[sizeof line + 64];
        int h = snprintf(msg, 64, "PRIVMSG %s :", g.rooms[s->room].name);
        memcpy(msg + h, line, n - 1); /* the payload without its '\n' */
        memcpy(msg + h + n - 1, "\r\n", 2);
        conn_write(&g.conns[s->conn], msg, (size_t)h + n + 1);
        return;
    }
    conn_write(&g.conns[s->conn], line, n);
}

static bool may_send(const sender_t *s)
{
    if (!g.sending)
        return false;
    if (cfg.messages > 0 && s->next_seq >= (uint64_t)cfg.messages)
        return false;
    return s->next_seq - s->done_seq < (uint64_t)cfg.window;
}

static void pump(sender_t *s)
{
    while (may_send(s))
        send_message(s);
}

static void complete(sender_t *s, uint64_t seq, uint64_t now)
{
    if (cfg.window <= 0 || seq < s->done_seq || seq >= s->next_seq)
        return;
    size_t slot = seq % (uint64_t)cfg.window;
    if (s->rem[slot] == 0 || --s->rem[slot] != 0)
        return;
    while (s->done_seq < s->next_seq && s->rem[s->done_seq % (uint64_t)cfg.window] == 0) {
        uint64_t ts = s->ts[s->done_seq % (uint64_t)cfg.window];
        if (in_window(ts) || cfg.messages > 0)
            hist_add(&g.done_lat, now - ts);
        g.completed++;
        s->done_seq++;
    }
    pump(s);
}

static void on_chat(conn_t *c, const char *text, size_t len)
{
    const char *end = text + len, *p = text;
    uint64_t sid, seq, ts;
    if (!(p = parse_u64(p, end, &sid)) || !(p = parse_u64(p, end, &seq)) || !(p = parse_u64(p, end, &ts)) ||
        sid >= (uint64_t)g.nsenders) {
        g.corrupt++;
        return;
    }
    sender_t *s = &g.senders[sid];
    if (s->room != c->room || s->conn == c->idx || c->slow) {
        g.misrouted++;
        return;
    }
    size_t header = (size_t)(p - text);
    if (len != (header > (size_t)cfg.size ? header : (size_t)cfg.size))
        g.corrupt++;
    uint64_t *next = &c->next_seq[s->slot];
    if (seq < *next)
        g.ooo++;
    else
        *next = seq + 1;
    uint64_t now = now_ns();
    g.deliveries++;
    g.last_delivery = now;
    if (in_window(now)) {
        g.deliv_win++;
        hist_add(&g.lat, now - ts);
    }
    complete(s, seq, now);
}

/* ------------------------------------------------------------------------------------------------ */
/* protocol state machine                                                                             */

static void on_registered(conn_t *c);
static void on_joined(conn_t *c);
static void on_eof(conn_t *c);

static bool line_is(const char *line, size_t len, const char *fmt, const char *a, const char *b)
{
    char want[160];
    int n = snprintf(want, sizeof want, fmt, a, b);
    return (size_t)n == len && memcmp(want, line, len) == 0;
}

static void on_notice(conn_t *c, const char *line, size_t len)
{
    switch (c->state) {
    case ST_PROMPT:
        if (line_is(line, len, ">> Enter pseudo:", "", "")) {
            c->state = ST_WELCOME;
            conn_printf(c, "%s\n", c->nick);
        }
        break;
    case ST_WELCOME:
        if (line_is(line, len, ">> Welcome %s !", c->nick, "")) {
            c->state = ST_REG;
            on_registered(c);
        }
        break;
    case ST_JOINING:
        if (line_is(line, len, ">> %s joined %s", c->nick, g.rooms[c->room].name)) {
            c->state = ST_READY;
            on_joined(c);
        }
        break;
    default:
        break;
    }
    if (c->room >= 0 && g.rooms[c->room].slow >= 0 && !g.slow_bye &&
        line_is(line, len, ">> Bye %s !", g.conns[g.rooms[c->room].slow].nick, "")) {
        g.slow_bye = true;
        g.slow_bye_ns = now_ns() - g.t_run;
    }
}

/* listflood: private messages "[pm from NICK] p SEQ SEND_NS", latency into g.lat. */
static bool g_pm_mode;
static uint64_t g_pm_sent, g_pm_got, g_pm_ooo, g_pm_next[2];

/* A private message of sequence seq sent at ts reached pm client c: order and latency. */
static void pm_received(conn_t *c, uint64_t seq, uint64_t ts)
{
    uint64_t now = now_ns();
    if (seq < g_pm_next[c->idx])
        g_pm_ooo++;
    else
        g_pm_next[c->idx] = seq + 1;
    g_pm_got++;
    g.last_delivery = now;
    if (in_window(ts))
        hist_add(&g.lat, now - ts);
}

static void on_pm(conn_t *c, const char *line, size_t len)
{
    const char *end = line + len, *p = memchr(line, ']', len);
    uint64_t seq, ts;
    if (!p || p + 4 > end || memcmp(p, "] p ", 4) != 0 || c->idx > 1 || !(p = parse_u64(p + 4, end, &seq)) ||
        !(p = parse_u64(p, end, &ts))) {
        g.corrupt++;
        return;
    }
    pm_received(c, seq, ts);
}
static void on_irc_line(conn_t *c, const char *line, size_t len);

/* listflood over IRC: "PRIVMSG ME :p SEQ SEND_NS x" from the other pm client, as on_pm. */
static void on_irc_pm(conn_t *c, const char *text, size_t len)
{
    const char *end = text + len, *p = text;
    uint64_t seq, ts;
    if (len < 2 || memcmp(p, "p ", 2) != 0 || c->idx > 1 || !(p = parse_u64(p + 2, end, &seq)) ||
        !(p = parse_u64(p, end, &ts))) {
        g.corrupt++;
        return;
    }
    pm_received(c, seq, ts);
}

static void on_line(conn_t *c, const char *line, size_t len)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (cfg.irc) {
        on_irc_line(c, line, len);
        return;
    }
    if (len >= 3 && memcmp(line, ">> ", 3) == 0) {
        on_notice(c, line, len);
    } else if (len >= 3 && memcmp(line, "!! ", 3) == 0) {
        die(2, "client %d (%s) got a server error: %.*s", c->idx, c->nick, (int)(len > 200 ? 200 : len), line);
    } else if (g_pm_mode && len >= 9 && memcmp(line, "[pm from ", 9) == 0) {
        on_pm(c, line, len);
    } else if ((len >= 3 && memcmp(line, "== ", 3) == 0) || (len >= 2 && memcmp(line, "* ", 2) == 0) ||
               (len >= 1 && line[0] == '[')) {
        return;
    } else {
        const char *sep = memmem(line, len, ": ", 2);
        if (!sep)
            die(2, "client %d (%s) got an unparseable line: %.*s", c->idx, c->nick, (int)(len > 200 ? 200 : len), line);
        on_chat(c, sep + 2, len - (size_t)(sep + 2 - line));
    }
}

/* ---- IRC mode ---------------------------------------------------------------------------------- */

typedef struct {
    const char *nick; /* source nick (up to '!', '@' or ' '), or NULL */
    size_t nick_len;
    const char *cmd;
    size_t cmd_len;
    const char *arg[4]; /* middle parameters */
    size_t arg_len[4];
    int nargs;
    const char *trail; /* the trailing parameter (after " :"), or NULL */
    size_t trail_len;
} irc_msg_t;

/* Splits "[@tags ][:source ]CMD [params] [:trailing]" without copying. */
static bool irc_parse(const char *p, size_t len, irc_msg_t *m)
{
    const char *end = p + len;
    memset(m, 0, sizeof *m);
    if (p < end && *p == '@') { /* IRCv3 tags: skipped */
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        if (!sp)
            return false;
        p = sp + 1;
    }
    if (p < end && *p == ':') {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        if (!sp)
            return false;
        m->nick = p + 1;
        const char *q = m->nick;
        while (q < sp && *q != '!' && *q != '@')
            q++;
        m->nick_len = (size_t)(q - m->nick);
        p = sp + 1;
    }
    while (p < end && *p == ' ')
        p++;
    m->cmd = p;
    while (p < end && *p != ' ')
        p++;
    m->cmd_len = (size_t)(p - m->cmd);
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end)
            break;
        if (*p == ':') {
            m->trail = p + 1;
            m->trail_len = (size_t)(end - p - 1);
            break;
        }
        const char *a = p;
        while (p < end && *p != ' ')
            p++;
        if (m->nargs < 4) {
            m->arg[m->nargs] = a;
            m->arg_len[m->nargs++] = (size_t)(p - a);
        }
    }
    return m->cmd_len > 0;
}

static bool tok_is(const char *t, size_t n, const char *want)
{
    return t && strlen(want) == n && strncasecmp(t, want, n) == 0;
}

/* The i-th parameter, counting the trailing one as the last. */
static bool irc_param(const irc_msg_t *m, int i, const char **p, size_t *n)
{
    if (i < m->nargs) {
        *p = m->arg[i];
        *n = m->arg_len[i];
        return true;
    }
    if (i == m->nargs && m->trail) {
        *p = m->trail;
        *n = m->trail_len;
        return true;
    }
    return false;
}

static void irc_registered(conn_t *c)
{
    c->irc_step = 3;
    c->state = ST_REG;
    on_registered(c);
}

static void on_irc_line(conn_t *c, const char *line, size_t len)
{
    irc_msg_t m;
    const char *p;
    size_t n;
    if (len == 0)
        return;
    if (!irc_parse(line, len, &m))
        die(2, "client %d (%s) got an unparseable line: %.*s", c->idx, c->nick, (int)(len > 200 ? 200 : len), line);
    if (tok_is(m.cmd, m.cmd_len, "PRIVMSG")) {
        if (!m.trail || m.nargs < 1) {
            g.corrupt++;
            return;
        }
        if (g_pm_mode && tok_is(m.arg[0], m.arg_len[0], c->nick)) {
            on_irc_pm(c, m.trail, m.trail_len);
            return;
        }
        const room_t *rm = c->room >= 0 ? &g.rooms[c->room] : NULL;
        if (!rm || !tok_is(m.arg[0], m.arg_len[0], rm->name)) {
            g.misrouted++;
            return;
        }
        /* the source must be the nick of the sender the payload names */
        uint64_t sid = 0;
        if (parse_u64(m.trail, m.trail + m.trail_len, &sid) && sid < (uint64_t)g.nsenders) {
            const char *want = g.conns[g.senders[sid].conn].nick;
            if (!tok_is(m.nick, m.nick_len, want)) {
                g.misrouted++;
                return;
            }
        }
        on_chat(c, m.trail, m.trail_len);
        return;
    }
    if (tok_is(m.cmd, m.cmd_len, "PING")) {
        if (irc_param(&m, 0, &p, &n))
            conn_printf(c, "PONG :%.*s\r\n", (int)(n > 200 ? 200 : n), p);
        else
            conn_printf(c, "PONG\r\n");
        return;
    }
    if (tok_is(m.cmd, m.cmd_len, "ERROR")) {
        if (c->state == ST_QUIT)
            return; /* the answer to our QUIT; EOF follows */
        die(2, "client %d (%s) got a server error: %.*s", c->idx, c->nick, (int)(len > 200 ? 200 : len), line);
    }
    if (m.cmd_len == 3 && m.cmd[0] >= '0' && m.cmd[0] <= '9' && m.cmd[1] >= '0' && m.cmd[1] <= '9' &&
        m.cmd[2] >= '0' && m.cmd[2] <= '9') {
        /* Three digits, read by hand: the line need not be NUL-terminated (a WebSocket frame's payload
         * can end its buffer), and atoi (strtol) may read to the end of the string. */
        int code = (m.cmd[0] - '0') * 100 + (m.cmd[1] - '0') * 10 + (m.cmd[2] - '0');
        if (code >= 400 && code < 600)
            die(2, "client %d (%s) got an error numeric: %.*s", c->idx, c->nick, (int)(len > 200 ? 200 : len), line);
        if (code == 1 && c->state == ST_WELCOME && c->irc_step == 0) {
            if (cfg.irc_oper && c->sender) {
                const char *colon = strchr(cfg.irc_oper, ':');
                c->irc_step = 1;
                conn_printf(c, "OPER %.*s %s\r\n", (int)(colon - cfg.irc_oper), cfg.irc_oper, colon + 1);
            } else {
                irc_registered(c);
            }
        } else if (code == 381 && c->state == ST_WELCOME && c->irc_step == 1) {
            if (cfg.irc_umode) {
                c->irc_step = 2;
                conn_printf(c, "MODE %s %s\r\n", c->nick, cfg.irc_umode);
            } else {
                irc_registered(c);
            }
        }
        return;
    }
    if (tok_is(m.cmd, m.cmd_len, "MODE")) {
        if (c->state == ST_WELCOME && c->irc_step == 2 && irc_param(&m, 0, &p, &n) && tok_is(p, n, c->nick))
            irc_registered(c);
        return;
    }
    if (tok_is(m.cmd, m.cmd_len, "JOIN")) {
        if (c->state == ST_JOINING && tok_is(m.nick, m.nick_len, c->nick) && irc_param(&m, 0, &p, &n) &&
            tok_is(p, n, g.rooms[c->room].name)) {
            c->state = ST_READY;
            on_joined(c);
        }
        return;
    }
    if (tok_is(m.cmd, m.cmd_len, "QUIT")) {
        if (c->room >= 0 && g.rooms[c->room].slow >= 0 && !g.slow_bye &&
            tok_is(m.nick, m.nick_len, g.conns[g.rooms[c->room].slow].nick)) {
            g.slow_bye = true;
            g.slow_bye_ns = now_ns() - g.t_run;
        }
        return;
    }
    /* NOTICE, NICK, PART, TOPIC, CAP, MODE of channels, …: not measured */
}

static void feed(conn_t *c, const char *data, size_t n)
{
    size_t i = 0;
    while (i < n && c->fd >= 0) {
        const char *nl = memchr(data + i, '\n', n - i);
        if (!nl) {
            buf_append(&c->part, data + i, n - i);
            if (c->part.len > MAX_LINE)
                die(2, "client %d: line longer than %u bytes", c->idx, MAX_LINE);
            return;
        }
        size_t len = (size_t)(nl - (data + i));
        if (c->part.len) {
            buf_append(&c->part, data + i, len);
            size_t plen = c->part.len;
            c->part.len = 0; /* the bytes stay valid until the next append */
            on_line(c, c->part.p, plen);
        } else {
            on_line(c, data + i, len);
        }
        i += len + 1;
    }
}

/* ---- WebSocket input: the upgrade response, then server frames ------------------------------------ */

/* One server message: its line(s), each parsed as a line received over TCP (a trailing \r\n, if the
 * server sends one, is stripped; several \n-separated lines in one message are each a line). */
static void ws_message(conn_t *c, const char *p, size_t n)
{
    const char *end = p + n;
    uint32_t gen = c->gen;
    while (p < end && c->gen == gen) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        if (len && !(len == 1 && p[0] == '\r'))
            on_line(c, p, len);
        p += len + (nl != NULL);
    }
}

static bool header_has(const char *head, size_t n, const char *name, const char *value)
{
    char want[200];
    int w = snprintf(want, sizeof want, "\r\n%s: %s\r\n", name, value);
    return memmem(head, n, want, (size_t)w) != NULL;
}

/* The upgrade response in c->wsin: true once complete and accepted (leftover bytes stay in c->wsin). */
static bool ws_upgraded(conn_t *c)
{
    const char *end = memmem(c->wsin.p, c->wsin.len, "\r\n\r\n", 4);
    if (!end) {
        if (c->wsin.len > 16384)
            die(2, "client %d: the WebSocket upgrade response has no end after 16 KiB", c->idx);
        return false;
    }
    size_t head = (size_t)(end - c->wsin.p) + 2;
    if (c->wsin.len < 12 || memcmp(c->wsin.p, "HTTP/1.1 101", 12) != 0) {
        const char *eol = memchr(c->wsin.p, '\r', c->wsin.len);
        die(2, "client %d: WebSocket upgrade refused: %.*s", c->idx, (int)(eol ? eol - c->wsin.p : 80), c->wsin.p);
    }
    /* header names are case-insensitive, but every server we know writes these so */
    if (!header_has(c->wsin.p, head, "Sec-WebSocket-Accept", WS_ACCEPT) &&
        !header_has(c->wsin.p, head, "sec-websocket-accept", WS_ACCEPT))
        die(2, "client %d: WebSocket upgrade without the right Sec-WebSocket-Accept", c->idx);
    if (cfg.ws_protocol && !header_has(c->wsin.p, head, "Sec-WebSocket-Protocol", cfg.ws_protocol) &&
        !header_has(c->wsin.p, head, "sec-websocket-protocol", cfg.ws_protocol))
        die(2, "client %d: the server did not accept the WebSocket subprotocol %s", c->idx, cfg.ws_protocol);
    size_t used = head + 2;
    memmove(c->wsin.p, c->wsin.p + used, c->wsin.len - used);
    c->wsin.len -= used;
    c->ws_open = true;
    return true;
}

/* Parses whole frames from p[0..n): returns the bytes consumed (a partial frame is left). */
static size_t ws_frames(conn_t *c, const char *buf, size_t n)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t at = 0;
    uint32_t gen = c->gen;
    while (c->gen == gen && n - at >= 2) {
        const unsigned char *h = p + at;
        size_t hl = 2;
        uint64_t len = h[1] & 0x7f;
        if (h[1] & 0x80)
            die(2, "client %d: the server sent a masked frame (RFC 6455 5.1)", c->idx);
        if (len == 126) {
            if (n - at < 4)
                break;
            len = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (len == 127) {
            if (n - at < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | h[2 + i];
            hl = 10;
        }
        if (len > MAX_LINE)
            die(2, "client %d: WebSocket frame of %llu bytes", c->idx, (unsigned long long)len);
        if (n - at < hl + len)
            break;
        const char *pl = (const char *)h + hl;
        int opcode = h[0] & 0x0f;
        bool fin = h[0] & 0x80;
        at += hl + (size_t)len;
        switch (opcode) {
        case 0: /* continuation */
        case 1: /* text */
        case 2: /* binary */
            if (opcode != 0 && c->wsmsg.len)
                die(2, "client %d: a new WebSocket message inside a fragmented one", c->idx);
            if (fin && !c->wsmsg.len) {
                ws_message(c, pl, (size_t)len);
            } else {
                buf_append(&c->wsmsg, pl, (size_t)len);
                if (c->wsmsg.len > MAX_LINE)
                    die(2, "client %d: WebSocket message longer than %u bytes", c->idx, MAX_LINE);
                if (fin) {
                    size_t ml = c->wsmsg.len;
                    c->wsmsg.len = 0; /* the bytes stay valid until the next append */
                    ws_message(c, c->wsmsg.p, ml);
                }
            }
            break;
        case 8: /* close: the end of the connection, as EOF over TCP */
            if (c->state != ST_QUIT)
                die(2, "client %d (%s): the server closed the WebSocket: code %d %.*s", c->idx, c->nick,
                    len >= 2 ? ((unsigned char)pl[0] << 8 | (unsigned char)pl[1]) : 1005, (int)(len > 2 ? len - 2 : 0),
                    pl + 2);
            on_eof(c);
            return at;
        case 9: /* ping */
            ws_frame(c, 10, pl, (size_t)len);
            break;
        case 10: /* pong */
            break;
        default:
            die(2, "client %d: WebSocket frame with opcode %d", c->idx, opcode);
        }
    }
    return at;
}

static void ws_input(conn_t *c, const char *data, size_t n)
{
    uint32_t gen = c->gen;
    if (!c->ws_open) {
        buf_append(&c->wsin, data, n);
        if (!ws_upgraded(c))
            return;
        proto_start(c);
        data = NULL, n = 0; /* the leftover is in wsin */
    }
    if (c->wsin.len == 0) {
        size_t used = ws_frames(c, data, n);
        if (c->gen == gen && used < n)
            buf_append(&c->wsin, data + used, n - used);
        return;
    }
    if (n)
        buf_append(&c->wsin, data, n);
    size_t used = ws_frames(c, c->wsin.p, c->wsin.len);
    if (c->gen != gen)
        return;
    memmove(c->wsin.p, c->wsin.p + used, c->wsin.len - used);
    c->wsin.len -= used;
}

static void conn_read(conn_t *c)
{
    /* A few reads for fairness; over TLS also whatever OpenSSL already holds (epoll cannot see it). */
    uint32_t gen = c->gen;
    for (int rounds = 0; c->gen == gen && (rounds < 4 || (c->ssl && SSL_has_pending(c->ssl))); rounds++) {
        ssize_t n = io_recv(c, scratch, sizeof scratch);
        if (n > 0) {
            if (cfg.ws)
                ws_input(c, scratch, (size_t)n);
            else
                feed(c, scratch, (size_t)n);
            if (c->gen != gen || ((size_t)n < sizeof scratch && !(c->ssl && SSL_has_pending(c->ssl))))
                return;
        } else if (n == 0) {
            on_eof(c);
            return;
        } else {
            return;
        }
    }
}

static void on_event(conn_t *c, uint32_t ev)
{
    if (c->state == ST_CONNECTING) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            conn_connected(c);
        return;
    }
    if (c->state == ST_TLS) {
        tls_handshake(c);
        return;
    }
    if (not_reading(c)) {
        if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            conn_close(c);
        return;
    }
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
        conn_read(c);
    if (c->fd >= 0 && (ev & EPOLLOUT))
        conn_flush(c);
}

/* ------------------------------------------------------------------------------------------------ */
/* event loop                                                                                         */

typedef bool (*step_fn)(uint64_t now);

static void run_loop(const char *phase, step_fn step, uint64_t deadline)
{
    struct epoll_event evs[1024];
    g_phase = phase;
    for (;;) {
        uint64_t now = now_ns();
        if (step(now))
            return;
        if (now > deadline)
            die(2, "timed out (registered %d/%d, joined %d, deliveries %llu/%llu expected)", g.registered, g.nconns,
                g.joined, (unsigned long long)g.deliveries, (unsigned long long)g.expected);
        int n = epoll_wait(g.epfd, evs, 1024, 1);
        if (n < 0 && errno != EINTR)
            die(2, "epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++)
            on_event(evs[i].data.ptr, evs[i].events);
    }
}

static uint64_t g_deadline;

/* ------------------------------------------------------------------------------------------------ */
/* setup: connect, register, join rooms                                                               */

static void connect_more(void)
{
    while (g.next_connect < g.nconns && g.connecting - g.registered < cfg.connect_parallel)
        conn_open(&g.conns[g.next_connect++]);
}

static void on_registered(conn_t *c)
{
    (void)c;
    g.registered++;
    if (g.senders == NULL) /* churn: quit right away */
        return;
    connect_more();
}

static void on_joined(conn_t *c)
{
    (void)c;
    g.joined++;
}

static bool step_connect(uint64_t now)
{
    (void)now;
    connect_more();
    return g.registered == g.nconns;
}

static bool step_create(uint64_t now)
{
    (void)now;
    return g.joined == g.nrooms;
}

static bool step_join(uint64_t now)
{
    (void)now;
    return g.joined == g.nconns;
}

static void join_rooms(void)
{
    if (cfg.irc) { /* IRC creates a channel on its first JOIN; every client joins, even with one room */
        for (int i = 0; i < g.nconns; i++) {
            conn_t *c = &g.conns[i];
            c->state = ST_JOINING;
            conn_printf(c, "JOIN %s\r\n", g.rooms[c->room].name);
        }
        run_loop("join channels", step_join, g_deadline);
        return;
    }
    if (g.nrooms == 1)
        return;
    for (int r = 0; r < g.nrooms; r++) {
        conn_t *c = &g.conns[g.rooms[r].first];
        c->state = ST_JOINING;
        conn_printf(c, "/create %s\n", g.rooms[r].name);
    }
    run_loop("create rooms", step_create, g_deadline);
    for (int i = 0; i < g.nconns; i++) {
        conn_t *c = &g.conns[i];
        if (c->state != ST_REG)
            continue;
        c->state = ST_JOINING;
        conn_printf(c, "/join %s\n", g.rooms[c->room].name);
    }
    run_loop("join rooms", step_join, g_deadline);
}

/* Build rooms of room_size members; the first `talkers` members of each room send. Members of room 0
 * stay in the default room when there is only one room. `slow` marks the last member of each room as
 * a reader that never reads. */
static void build_topology(int nrooms, int room_size, int talkers, bool slow)
{
    g.nrooms = nrooms;
    g.nconns = nrooms * room_size;
    g.nsenders = nrooms * talkers;
    g.rooms = xcalloc((size_t)nrooms, sizeof *g.rooms);
    g.conns = xcalloc((size_t)g.nconns, sizeof *g.conns);
    g.senders = xcalloc((size_t)g.nsenders, sizeof *g.senders);
    int w = cfg.window > 0 ? cfg.window : 1;
    for (int r = 0; r < nrooms; r++) {
        room_t *rm = &g.rooms[r];
        rm->first = r * room_size;
        rm->members = room_size;
        rm->nsenders = talkers;
        rm->first_sender = r * talkers;
        rm->slow = slow ? rm->first + room_size - 1 : -1;
        if (cfg.irc && nrooms == 1)
            snprintf(rm->name, sizeof rm->name, "#bench");
        else
            snprintf(rm->name, sizeof rm->name, "%sr%s%d", cfg.irc ? "#" : "", cfg.tag, r);
        for (int k = 0; k < talkers; k++) {
            sender_t *s = &g.senders[r * talkers + k];
            s->conn = rm->first + k;
            g.conns[s->conn].sender = true;
            s->room = r;
            s->slot = k;
            s->recipients = room_size - 1 - (slow ? 1 : 0);
            s->rem = xcalloc((size_t)w, sizeof *s->rem);
            s->ts = xcalloc((size_t)w, sizeof *s->ts);
        }
    }
    for (int i = 0; i < g.nconns; i++) {
        conn_t *c = &g.conns[i];
        c->fd = -1;
        c->idx = i;
        c->room = i / room_size;
        c->slow = slow && i == g.rooms[c->room].slow;
        c->next_seq = xcalloc((size_t)talkers, sizeof *c->next_seq);
        snprintf(c->nick, sizeof c->nick, "u%s%d", cfg.tag, i);
    }
}

static void setup_clients(void)
{
    run_loop("connect+register", step_connect, g_deadline);
    join_rooms();
    for (int i = 0; i < g.nconns; i++) {
        conn_t *c = &g.conns[i];
        c->state = ST_READY;
        conn_set_events(c);
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* measuring window                                                                                   */

typedef struct {
    uint64_t wall0, tool0, srv0, rss0;
    double wall_s, tool_busy, srv_cpu_s;
    uint64_t rss1;
} probe_t;

static void probe_start(probe_t *p)
{
    p->wall0 = now_ns();
    p->tool0 = self_cpu_ns();
    p->srv0 = proc_cpu_ns(cfg.server_pid);
    p->rss0 = proc_rss_kb(cfg.server_pid);
}

static void probe_stop(probe_t *p)
{
    uint64_t wall = now_ns() - p->wall0;
    p->wall_s = (double)wall / 1e9;
    p->tool_busy = wall ? (double)(self_cpu_ns() - p->tool0) / (double)wall : 0;
    p->srv_cpu_s = (double)(proc_cpu_ns(cfg.server_pid) - p->srv0) / 1e9;
    p->rss1 = proc_rss_kb(cfg.server_pid);
}

static probe_t g_probe;
static bool g_probe_started, g_probe_stopped;
static uint64_t g_next_rss;

static void sample_rss(uint64_t now)
{
    if (cfg.server_pid <= 0 || now < g_next_rss)
        return;
    g_next_rss = now + 100 * 1000000ull;
    uint64_t rss = proc_rss_kb(cfg.server_pid);
    if (rss > g.rss_max)
        g.rss_max = rss;
}

static void pace_open_loop(uint64_t now)
{
    if (!g.sending || cfg.rate <= 0)
        return;
    double per_sender = cfg.rate / g.nsenders;
    uint64_t target = (uint64_t)((double)(now - g.t_run) / 1e9 * per_sender) + 1;
    for (int i = 0; i < g.nsenders; i++) {
        sender_t *s = &g.senders[i];
        while (s->next_seq < target && (cfg.messages <= 0 || s->next_seq < (uint64_t)cfg.messages))
            send_message(s);
    }
}

static bool all_done(void)
{
    return g.deliveries + g.misrouted + g.corrupt >= g.expected;
}

static bool step_run(uint64_t now)
{
    sample_rss(now);
    if (!g_probe_started && now >= g.t_m0) {
        probe_start(&g_probe);
        g_probe_started = true;
    }
    if (g_probe_started && !g_probe_stopped && (now >= g.t_m1 || (cfg.messages > 0 && !g.sending))) {
        probe_stop(&g_probe);
        g_probe_stopped = true;
    }
    if (g.sending && now >= g.t_m1)
        g.sending = false;
    if (g.sending && cfg.messages > 0 && g.completed >= (uint64_t)cfg.messages * (uint64_t)g.nsenders)
        g.sending = false;
    pace_open_loop(now);
    return !g.sending && g_probe_stopped;
}

/* Drain until every expected delivery arrived, or nothing arrived for --drain seconds (then the
 * missing ones count as losses); --timeout still bounds the whole run. */
static bool step_drain(uint64_t now)
{
    sample_rss(now);
    uint64_t since = g.last_delivery > g.t_m1 ? g.last_delivery : g.t_m1;
    return all_done() || now > since + (uint64_t)(cfg.drain * 1e9);
}

static void run_traffic(void)
{
    g.t_run = now_ns();
    g.t_m0 = g.t_run + (uint64_t)(cfg.warmup * 1e9);
    g.t_m1 = g.t_m0 + (uint64_t)(cfg.duration * 1e9);
    if (cfg.messages > 0) /* count-bound runs measure everything */
        g.t_m0 = g.t_run, g.t_m1 = UINT64_MAX / 2;
    g.rss_max = proc_rss_kb(cfg.server_pid);
    g.sending = true;
    if (cfg.rate <= 0)
        for (int i = 0; i < g.nsenders; i++)
            pump(&g.senders[i]);
    run_loop("traffic", step_run, g_deadline);
    if (g.t_m1 > g.t_run + 1000 * NS_PER_S)
        g.t_m1 = now_ns();
    run_loop("drain", step_drain, g_deadline);
}

/* ------------------------------------------------------------------------------------------------ */
/* reporting                                                                                          */

static FILE *g_json;
static bool g_first_field;

static void jopen(void)
{
    g_json = cfg.json ? stdout : NULL;
    g_first_field = true;
    if (g_json)
        fputc('{', g_json);
}

static void jsep(void)
{
    if (!g_first_field)
        fputc(',', g_json);
    g_first_field = false;
}

static void jnum(const char *key, double v)
{
    fprintf(stderr, "  %-30s %.6g\n", key, v);
    if (!g_json)
        return;
    jsep();
    fprintf(g_json, "\"%s\":%.9g", key, v);
}

static void jstr(const char *key, const char *v)
{
    fprintf(stderr, "  %-30s %s\n", key, v);
    if (!g_json)
        return;
    jsep();
    fprintf(g_json, "\"%s\":\"%s\"", key, v);
}

static void jbool(const char *key, bool v)
{
    fprintf(stderr, "  %-30s %s\n", key, v ? "true" : "false");
    if (!g_json)
        return;
    jsep();
    fprintf(g_json, "\"%s\":%s", key, v ? "true" : "false");
}

static void jclose(void)
{
    if (g_json) {
        fputs("}\n", g_json);
        fflush(g_json);
    }
}

static void report_hist(const char *prefix, const hist_t *h)
{
    char key[64];
    const double p[] = {50, 90, 99, 99.9};
    const char *names[] = {"p50", "p90", "p99", "p999"};
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "%s_%s_us", prefix, names[i]);
        jnum(key, (double)hist_pct(h, p[i]) / 1e3);
    }
    snprintf(key, sizeof key, "%s_max_us", prefix);
    jnum(key, (double)h->max / 1e3);
    snprintf(key, sizeof key, "%s_mean_us", prefix);
    jnum(key, h->n ? (double)h->sum / (double)h->n / 1e3 : 0);
}

static void report_common(void)
{
    jstr("scenario", cfg.scenario);
    if (cfg.irc)
        jstr("proto", "irc");
    if (cfg.tls || cfg.ws)
        jstr("transport", cfg.tls && cfg.ws ? "wss" : cfg.tls ? "tls" : "ws");
    if (cfg.ws && cfg.ws_protocol)
        jstr("ws_protocol", cfg.ws_protocol);
    jnum("server_pid", cfg.server_pid);
    jnum("clients", g.nconns);
}

static void report_probe(const probe_t *p, double deliveries)
{
    bool saturated = p->tool_busy > 0.9;
    jnum("window_s", p->wall_s);
    jnum("tool_cpu_pct", p->tool_busy * 100);
    jbool("tool_saturated", saturated);
    if (cfg.server_pid > 0) {
        jnum("server_cpu_s", p->srv_cpu_s);
        jnum("server_cpu_pct", p->wall_s > 0 ? p->srv_cpu_s / p->wall_s * 100 : 0);
        if (deliveries > 0)
            jnum("server_cpu_ns_per_delivery", p->srv_cpu_s * 1e9 / deliveries);
        jnum("server_rss_kb_start", (double)p->rss0);
        jnum("server_rss_kb_end", (double)p->rss1);
        jnum("server_rss_kb_max", (double)g.rss_max);
    }
}

static uint64_t problems(void)
{
    uint64_t lost = g.expected > g.deliveries ? g.expected - g.deliveries : 0;
    return lost + g.ooo + g.misrouted + g.corrupt;
}

static void report_traffic(void)
{
    uint64_t lost = g.expected > g.deliveries ? g.expected - g.deliveries : 0;
    jnum("senders", g.nsenders);
    jnum("rooms", g.nrooms);
    jnum("size", cfg.size);
    jnum("window", cfg.rate > 0 ? 0 : cfg.window);
    jnum("rate_offered", cfg.rate);
    jstr("mode", cfg.rate > 0 ? "open" : "closed");
    jnum("messages_sent", (double)g.sent);
    jnum("deliveries", (double)g.deliveries);
    jnum("deliveries_expected", (double)g.expected);
    jnum("losses", (double)lost);
    jnum("out_of_order", (double)g.ooo);
    jnum("misrouted", (double)g.misrouted);
    jnum("corrupt", (double)g.corrupt);
    double w = g_probe.wall_s > 0 ? g_probe.wall_s : 1;
    jnum("messages_per_s", (double)g.sent_win / w);
    jnum("deliveries_per_s", (double)g.deliv_win / w);
    report_hist("latency", &g.lat);
    if (cfg.rate <= 0)
        report_hist("completion", &g.done_lat);
    report_probe(&g_probe, (double)g.deliv_win);
}

/* ------------------------------------------------------------------------------------------------ */
/* scenarios                                                                                          */

static void defaults(int clients, int senders, int window, double duration)
{
    if (cfg.clients < 0)
        cfg.clients = clients;
    if (cfg.senders < 0)
        cfg.senders = senders;
    if (cfg.window < 0)
        cfg.window = window;
    if (cfg.duration < 0)
        cfg.duration = duration;
    if (cfg.size < 0)
        cfg.size = 64;
    if (cfg.warmup < 0)
        cfg.warmup = 1;
    if (cfg.timeout < 0)
        cfg.timeout = 120;
    if (cfg.rate > 0 && cfg.window > 0)
        cfg.window = 0;
    g_deadline = now_ns() + (uint64_t)(cfg.timeout * 1e9);
}

static void check_room(int members, int senders)
{
    if (members < 2 || senders < 1 || senders >= members + 1)
        die(1, "need at least 2 members and 1..members senders (members %d, senders %d)", members, senders);
}

static void scenario_fanout(void)
{
    defaults(100, 4, 16, 5);
    check_room(cfg.clients, cfg.senders);
    if (cfg.senders > cfg.clients)
        die(1, "--senders > --clients");
    build_topology(1, cfg.clients, cfg.senders, false);
    setup_clients();
    run_traffic();
    jopen();
    report_common();
    report_traffic();
    jclose();
}

static void scenario_rooms(void)
{
    if (cfg.rooms < 0)
        cfg.rooms = 1000;
    if (cfg.room_size < 0)
        cfg.room_size = 10;
    if (cfg.talkers < 0)
        cfg.talkers = cfg.room_size / 10 > 0 ? cfg.room_size / 10 : 1;
    defaults(cfg.rooms * cfg.room_size, cfg.rooms * cfg.talkers, 4, 5);
    check_room(cfg.room_size, cfg.talkers);
    build_topology(cfg.rooms, cfg.room_size, cfg.talkers, false);
    setup_clients();
    run_traffic();
    jopen();
    report_common();
    report_traffic();
    jclose();
}

static void scenario_slowreader(void)
{
    defaults(20, 4, 16, 5);
    check_room(cfg.clients - 1, cfg.senders);
    build_topology(1, cfg.clients, cfg.senders, true);
    setup_clients();
    run_traffic();
    jopen();
    report_common();
    report_traffic();
    jbool("slow_reader_disconnected", g.slow_bye);
    jnum("slow_reader_disconnected_after_s", g.slow_bye ? (double)g.slow_bye_ns / 1e9 : -1);
    jclose();
}

static void scenario_bigroom(void)
{
    if (cfg.messages < 0)
        cfg.messages = 5;
    defaults(10000, 1, 1, 0);
    cfg.senders = 1;
    cfg.window = 1;
    cfg.rate = 0;
    check_room(cfg.clients, 1);
    build_topology(1, cfg.clients, 1, false);
    setup_clients();
    run_traffic();
    jopen();
    report_common();
    jnum("messages", cfg.messages);
    report_traffic();
    jclose();
}

static bool g_hold_until_set;
static uint64_t g_hold_until;

static bool step_hold(uint64_t now)
{
    return g_hold_until_set && now >= g_hold_until;
}

static void scenario_idle(void)
{
    uint64_t rss_before = 0;
    double hold = cfg.duration;
    cfg.duration = 0;
    cfg.messages = 1;
    defaults(10000, 1, 1, 0);
    if (hold < 0)
        hold = 5;
    cfg.senders = 1;
    cfg.window = 1;
    cfg.rate = 0;
    rss_before = proc_rss_kb(cfg.server_pid);
    check_room(cfg.clients, 1);
    build_topology(1, cfg.clients, 1, false);
    uint64_t t0 = now_ns();
    setup_clients();
    double setup_s = (double)(now_ns() - t0) / 1e9;
    run_traffic(); /* one broadcast proves every member receives */
    uint64_t rss_after = proc_rss_kb(cfg.server_pid);
    probe_t p;
    probe_start(&p);
    g_hold_until = now_ns() + (uint64_t)(hold * 1e9);
    g_hold_until_set = true;
    run_loop("hold", step_hold, g_hold_until + 10 * NS_PER_S);
    probe_stop(&p);
    g.rss_max = p.rss1 > rss_after ? p.rss1 : rss_after;
    jopen();
    report_common();
    jnum("setup_s", setup_s);
    jnum("hold_s", hold);
    jnum("proof_deliveries", (double)g.deliveries);
    jnum("losses", (double)(g.expected - (g.deliveries < g.expected ? g.deliveries : g.expected)));
    jnum("broadcast_completion_us", (double)g.done_lat.max / 1e3);
    if (cfg.server_pid > 0) {
        jnum("server_rss_kb_before", (double)rss_before);
        jnum("server_rss_kb_registered", (double)rss_after);
        jnum("server_rss_kb_hold_end", (double)p.rss1);
        jnum("rss_bytes_per_client", ((double)p.rss1 - (double)rss_before) * 1024.0 / g.nconns);
        jnum("server_idle_cpu_pct", p.srv_cpu_s / p.wall_s * 100);
    }
    jnum("tool_cpu_pct", p.tool_busy * 100);
    jclose();
}

/* listflood: C clients (5,000) in the default room (IRC, --proto irc: in one channel, asking WHO #channel
 * and sending PRIVMSG nick); the last A (200) send --ask-burst /who at once (6),
 * then --ask-rate a second (3), all at the same moments, and never read after registering: within the
 * default flood budget (burst 40, 20 a second), as a /who of 5,000 lines costs 6 tokens; clients 0 and 1 exchange private messages at --rate (10 a second
 * each way). Reports the private messages' latency: what everyone else sees while lists are asked for. */
static bool step_listflood(uint64_t now)
{
    sample_rss(now);
    if (!g_probe_started && now >= g.t_m0) {
        probe_start(&g_probe);
        g_probe_started = true;
    }
    if (g.sending && now >= g.t_m1) {
        probe_stop(&g_probe);
        g_probe_stopped = true;
        g.sending = false;
    }
    if (g.sending) {
        double el = (double)(now - g.t_run) / 1e9;
        uint64_t pm_target = (uint64_t)(el * cfg.rate) + 1;
        for (int k = 0; k < 2; k++) {
            conn_t *from = &g.conns[k], *to = &g.conns[1 - k];
            while (g.senders[k].next_seq < pm_target) {
                conn_printf(from, cfg.irc ? "PRIVMSG %s :p %llu %llu x\r\n" : "/msg %s p %llu %llu x\n", to->nick,
                            (unsigned long long)g.senders[k].next_seq++, (unsigned long long)now_ns());
                g_pm_sent++;
            }
        }
        for (int i = g.nconns - cfg.askers; i < g.nconns; i++) {
            conn_t *c = &g.conns[i];
            /* all together, as an attacker would: --ask-burst at once, then --ask-rate a second */
            uint64_t target = (uint64_t)(el * cfg.ask_rate) + (uint64_t)cfg.ask_burst;
            if (c->fd < 0)
                continue;
            while (c->next_seq[0] < target) {
                /* IRC: WHO of the room everyone is in (5,000 352 lines), as /who */
                if (cfg.irc)
                    conn_printf(c, "WHO %s\r\n", g.rooms[0].name);
                else
                    conn_write(c, "/who\n", 5);
                c->next_seq[0]++;
                g.sent++;
                if (in_window(now))
                    g.sent_win++;
            }
        }
    }
    return !g.sending && (g_pm_got >= g_pm_sent || now > g.t_m1 + (uint64_t)(cfg.drain * 1e9));
}

static void scenario_listflood(void)
{
    if (cfg.askers < 0)
        cfg.askers = 200;
    if (cfg.ask_rate < 0)
        cfg.ask_rate = 3;
    if (cfg.ask_burst < 0)
        cfg.ask_burst = 6;
    if (cfg.rate <= 0)
        cfg.rate = 10;
    defaults(5000, 0, 0, 5);
    if (cfg.clients < cfg.askers + 2)
        die(1, "need --clients >= --askers + 2");
    cfg.window = 0;
    g_pm_mode = true;
    build_topology(1, cfg.clients, 2, false);
    for (int i = 0; i < g.nconns; i++) {
        free(g.conns[i].next_seq);
        g.conns[i].next_seq = xcalloc(1, sizeof *g.conns[i].next_seq);
    }
    setup_clients();
    for (int i = g.nconns - cfg.askers; i < g.nconns; i++) {
        g.conns[i].slow = true; /* never reads from now on */
        conn_set_events(&g.conns[i]);
    }
    uint64_t rss_before = proc_rss_kb(cfg.server_pid);
    g.t_run = now_ns();
    g.t_m0 = g.t_run + (uint64_t)(cfg.warmup * 1e9);
    g.t_m1 = g.t_m0 + (uint64_t)(cfg.duration * 1e9);
    g.rss_max = rss_before;
    g.sending = true;
    run_loop("listflood", step_listflood, g_deadline);
    int dropped = 0;
    for (int i = g.nconns - cfg.askers; i < g.nconns; i++)
        dropped += g.conns[i].fd < 0;
    jopen();
    report_common();
    jnum("askers", cfg.askers);
    jnum("ask_rate", cfg.ask_rate);
    jnum("ask_burst", cfg.ask_burst);
    jnum("who_sent_per_s", (double)g.sent_win / g_probe.wall_s);
    jnum("askers_disconnected", dropped);
    jnum("pm_sent", (double)g_pm_sent);
    jnum("pm_received", (double)g_pm_got);
    jnum("pm_lost", (double)(g_pm_sent - (g_pm_got < g_pm_sent ? g_pm_got : g_pm_sent)));
    jnum("pm_out_of_order", (double)g_pm_ooo);
    report_hist("pm_latency", &g.lat);
    report_probe(&g_probe, 0);
    if (cfg.server_pid > 0)
        jnum("server_rss_kb_before", (double)rss_before);
    jclose();
}

/* churn: K slots; each runs connect -> prompt -> nick -> welcome -> /quit -> EOF, then starts again
 * with a fresh nickname. */
static uint64_t g_churn_nick;

static void churn_start(conn_t *c)
{
    snprintf(c->nick, sizeof c->nick, "c%s%llu", cfg.tag, (unsigned long long)g_churn_nick++);
    conn_open(c);
}

static void on_eof(conn_t *c)
{
    if (c->state != ST_QUIT)
        die(2, "client %d (%s): server closed the connection unexpectedly (state %d)", c->idx, c->nick, c->state);
    uint64_t now = now_ns();
    g.cycles++;
    if (in_window(now)) {
        g.cycles_win++;
        hist_add(&g.lat, now - c->t_start);
    }
    g.connecting--;
    conn_close(c);
    if (g.sending)
        churn_start(c);
}

static bool step_churn(uint64_t now)
{
    sample_rss(now);
    for (int i = 0; i < g.nconns; i++) {
        conn_t *c = &g.conns[i];
        if (c->state == ST_REG) {
            c->state = ST_QUIT;
            if (cfg.irc)
                conn_printf(c, "QUIT :bye\r\n");
            else
                conn_printf(c, "/quit\n");
        }
    }
    if (!g_probe_started && now >= g.t_m0) {
        probe_start(&g_probe);
        g_probe_started = true;
    }
    if (g.sending && now >= g.t_m1) {
        probe_stop(&g_probe);
        g_probe_stopped = true;
        g.sending = false;
    }
    return !g.sending && g.connecting == 0;
}

static void scenario_churn(void)
{
    if (cfg.parallel < 0)
        cfg.parallel = 16;
    defaults(cfg.parallel, 0, 0, 5);
    g.nconns = cfg.parallel;
    g.conns = xcalloc((size_t)g.nconns, sizeof *g.conns);
    g.t_run = now_ns();
    g.t_m0 = g.t_run + (uint64_t)(cfg.warmup * 1e9);
    g.t_m1 = g.t_m0 + (uint64_t)(cfg.duration * 1e9);
    g.sending = true;
    g.rss_max = proc_rss_kb(cfg.server_pid);
    for (int i = 0; i < g.nconns; i++) {
        g.conns[i].idx = i;
        g.conns[i].room = -1;
        g.conns[i].fd = -1;
        churn_start(&g.conns[i]);
    }
    run_loop("churn", step_churn, g_deadline);
    jopen();
    report_common();
    jnum("parallel", cfg.parallel);
    jnum("cycles", (double)g.cycles);
    jnum("cycles_per_s", (double)g.cycles_win / g_probe.wall_s);
    report_hist("cycle", &g.lat);
    report_probe(&g_probe, 0);
    jclose();
}

/* ------------------------------------------------------------------------------------------------ */
/* command line                                                                                       */

static void usage(void)
{
    fprintf(stderr,
            "usage: stress --port P [--host 127.0.0.1] [--scenario fanout|rooms|idle|churn|bigroom|slowreader|listflood]\n"
            "  --clients N --senders S --window W | --rate R  --size B --duration D --warmup D\n"
            "  --rooms R --room-size M --talkers T (rooms)   --parallel K (churn)   --messages M (bigroom)\n"
            "  --askers A --ask-burst B --ask-rate N (listflood: A clients send B /who, then N a second; never read)\n"
            "  --server-pid PID  --json  --timeout S  --drain S  --connect-parallel N  --tag X\n"
            "  --proto line|irc  --irc-oper NAME:PASS  --irc-umode MODES (irc: senders OPER, then set MODES)\n"
            "  --tls (TLS, no certificate check)  --ws [--ws-protocol NAME] [--ws-path /] (WebSocket; with --tls: wss)\n");
    exit(1);
}

static double num_arg(const char *name, const char *v)
{
    char *end;
    double d = strtod(v, &end);
    if (*v == 0 || *end != 0 || d < 0)
        die(1, "--%s wants a non-negative number, got '%s'", name, v);
    return d;
}

static void parse_args(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"scenario", 1, 0, 's'}, {"clients", 1, 0, 'c'},
        {"senders", 1, 0, 'S'}, {"window", 1, 0, 'w'}, {"rate", 1, 0, 'r'}, {"size", 1, 0, 'B'},
        {"duration", 1, 0, 'd'}, {"warmup", 1, 0, 'W'}, {"timeout", 1, 0, 'T'}, {"drain", 1, 0, 'D'},
        {"rooms", 1, 0, 'R'}, {"room-size", 1, 0, 'M'}, {"talkers", 1, 0, 't'}, {"parallel", 1, 0, 'K'},
        {"messages", 1, 0, 'm'}, {"server-pid", 1, 0, 'P'}, {"json", 0, 0, 'j'},
        {"connect-parallel", 1, 0, 'C'}, {"tag", 1, 0, 'g'}, {"askers", 1, 0, 'A'}, {"ask-rate", 1, 0, 'a'},
        {"ask-burst", 1, 0, 'b'},
        {"proto", 1, 0, 'X'}, {"irc-oper", 1, 0, 'O'}, {"irc-umode", 1, 0, 'U'},
        {"tls", 0, 0, 'L'}, {"ws", 0, 0, 'V'}, {"ws-protocol", 1, 0, 'Y'}, {"ws-path", 1, 0, 'Z'},
        {"help", 0, 0, '?'}, {0, 0, 0, 0},
    };
    int o, li;
    while ((o = getopt_long(argc, argv, "", opts, &li)) != -1) {
        const char *n = li >= 0 ? opts[li].name : "?";
        switch (o) {
        case 'h': cfg.host = optarg; break;
        case 'p': cfg.port = (int)num_arg(n, optarg); break;
        case 's': cfg.scenario = optarg; break;
        case 'c': cfg.clients = (int)num_arg(n, optarg); break;
        case 'S': cfg.senders = (int)num_arg(n, optarg); break;
        case 'w': cfg.window = (int)num_arg(n, optarg); break;
        case 'r': cfg.rate = num_arg(n, optarg); break;
        case 'B': cfg.size = (int)num_arg(n, optarg); break;
        case 'd': cfg.duration = num_arg(n, optarg); break;
        case 'W': cfg.warmup = num_arg(n, optarg); break;
        case 'T': cfg.timeout = num_arg(n, optarg); break;
        case 'D': cfg.drain = num_arg(n, optarg); break;
        case 'R': cfg.rooms = (int)num_arg(n, optarg); break;
        case 'M': cfg.room_size = (int)num_arg(n, optarg); break;
        case 't': cfg.talkers = (int)num_arg(n, optarg); break;
        case 'K': cfg.parallel = (int)num_arg(n, optarg); break;
        case 'm': cfg.messages = (int)num_arg(n, optarg); break;
        case 'P': cfg.server_pid = (pid_t)num_arg(n, optarg); break;
        case 'j': cfg.json = true; break;
        case 'C': cfg.connect_parallel = (int)num_arg(n, optarg); break;
        case 'g': snprintf(cfg.tag, sizeof cfg.tag, "%s", optarg); break;
        case 'A': cfg.askers = (int)num_arg(n, optarg); break;
        case 'a': cfg.ask_rate = num_arg(n, optarg); break;
        case 'b': cfg.ask_burst = (int)num_arg(n, optarg); break;
        case 'X':
            if (strcmp(optarg, "irc") != 0 && strcmp(optarg, "line") != 0)
                die(1, "--proto wants line or irc, got '%s'", optarg);
            cfg.irc = strcmp(optarg, "irc") == 0;
            break;
        case 'O':
            if (!strchr(optarg, ':'))
                die(1, "--irc-oper wants NAME:PASSWORD");
            cfg.irc_oper = optarg;
            break;
        case 'U': cfg.irc_umode = optarg; break;
        case 'L': cfg.tls = true; break;
        case 'V': cfg.ws = true; break;
        case 'Y':
            if (!*optarg || strpbrk(optarg, " \r\n,"))
                die(1, "--ws-protocol wants one token, got '%s'", optarg);
            cfg.ws_protocol = optarg;
            break;
        case 'Z':
            if (optarg[0] != '/' || strpbrk(optarg, " \r\n"))
                die(1, "--ws-path wants a path starting with /, got '%s'", optarg);
            cfg.ws_path = optarg;
            break;
        default: usage();
        }
        li = -1;
    }
    if (optind != argc || cfg.port <= 0 || cfg.port > 65535)
        usage();
    if (cfg.size > 60000)
        die(1, "--size at most 60000");
    if (cfg.irc && cfg.size > 400) /* an IRC line is 512 bytes with the source, command and channel */
        die(1, "--size at most 400 with --proto irc");
    if (!cfg.irc && (cfg.irc_oper || cfg.irc_umode))
        die(1, "--irc-oper and --irc-umode need --proto irc");
    if (!cfg.ws && (cfg.ws_protocol || strcmp(cfg.ws_path, "/") != 0))
        die(1, "--ws-protocol and --ws-path need --ws");
    if (cfg.connect_parallel < 1)
        cfg.connect_parallel = 1;
}

/* Only loopback: this tool must never load anything but this machine. */
static void resolve_host(void)
{
    const char *h = strcmp(cfg.host, "localhost") == 0 ? "127.0.0.1" : cfg.host;
    g.addr.sin_family = AF_INET;
    g.addr.sin_port = htons((uint16_t)cfg.port);
    if (inet_pton(AF_INET, h, &g.addr.sin_addr) != 1)
        die(1, "--host must be an IPv4 loopback address, got '%s'", cfg.host);
    if ((ntohl(g.addr.sin_addr.s_addr) >> 24) != 127)
        die(1, "--host must be in 127.0.0.0/8 (loopback only), got '%s'", cfg.host);
}

static void make_tag(void)
{
    if (cfg.tag[0])
        return;
    static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t x = now_ns() ^ ((uint64_t)getpid() << 20);
    for (int i = 0; i < 3; i++, x /= 36)
        cfg.tag[i] = digits[x % 36];
    cfg.tag[3] = 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    resolve_host();
    make_tag();
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    g.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g.epfd < 0)
        die(2, "epoll_create1: %s", strerror(errno));
    if (cfg.tls)
        tls_init();
    fprintf(stderr, "stress: scenario %s against %s:%d (tag %s%s%s%s%s)\n", cfg.scenario, cfg.host, cfg.port, cfg.tag,
            cfg.irc ? ", IRC" : "", cfg.tls ? ", TLS" : "", cfg.ws ? ", WebSocket " : "",
            cfg.ws ? (cfg.ws_protocol ? cfg.ws_protocol : "(no subprotocol)") : "");
    if (strcmp(cfg.scenario, "fanout") == 0)
        scenario_fanout();
    else if (strcmp(cfg.scenario, "rooms") == 0)
        scenario_rooms();
    else if (strcmp(cfg.scenario, "idle") == 0)
        scenario_idle();
    else if (strcmp(cfg.scenario, "churn") == 0)
        scenario_churn();
    else if (strcmp(cfg.scenario, "bigroom") == 0)
        scenario_bigroom();
    else if (strcmp(cfg.scenario, "slowreader") == 0)
        scenario_slowreader();
    else if (strcmp(cfg.scenario, "listflood") == 0)
        scenario_listflood();
    else
        die(1, "unknown scenario '%s'", cfg.scenario);
    for (int i = 0; i < g.nconns; i++) {
        conn_close(&g.conns[i]);
        buf_free(&g.conns[i].part);
        buf_free(&g.conns[i].out);
        buf_free(&g.conns[i].wsin);
        buf_free(&g.conns[i].wsmsg);
    }
    if (problems()) {
        fprintf(stderr, "stress: %s: losses/out-of-order/misrouted/corrupt deliveries seen\n", cfg.scenario);
        return 3;
    }
    return 0;
}
