/*
 * cref: a minimal hand-written C epoll fan-out server, the near-physical reference that `npm run bench`
 * compares epchat (and InspIRCd, ngIRCd) against. See docs/performance.md.
 *
 * It is a measuring instrument, not a product: one thread, level-triggered epoll, non-blocking sockets,
 * one 64 KiB read buffer shared by all connections, a per-client output buffer, and at the end of each
 * loop pass (after up to INPUT_ROUNDS extra non-blocking polls for more input) one write per client
 * that has something queued. Each complete line a member sends is
 * formatted once and appended to every other member of its room. No nick checks, no flood control, no
 * timeouts. Two protocols, chosen by --proto:
 *
 *   line (default): the subset of docs/protocol.md that tools/stress uses:
 *       ">> Enter pseudo:" / NICK / ">> Welcome NICK !"; "/create R", "/join R" -> ">> NICK joined R"
 *       (to the joiner only); "/quit" -> close; any other line -> "NICK: line" to the room's others;
 *       a departure -> ">> Bye NICK !" to the room.
 *   irc: NICK + USER -> ":cref 001 NICK :Welcome"; PING x -> ":cref PONG cref :x"; JOIN #r -> echo
 *       ":NICK!u@h JOIN #r" (to the joiner only; one channel per client: a second JOIN moves it);
 *       PRIVMSG #r :text -> ":NICK!u@h PRIVMSG #r :text" to the channel's others; QUIT -> ERROR, close;
 *       a departure -> ":NICK!u@h QUIT :bye" to the channel; anything else is ignored.
 *
 * Transports, for either protocol (the bench's WebSocket and TLS rows):
 *   --ws: every connection is a WebSocket (RFC 6455): the HTTP Upgrade is answered (101, the
 *       Sec-WebSocket-Accept, the first subprotocol the client offers echoed), each client frame (masked,
 *       unfragmented text or binary) is one line, and each line the server sends is one unmasked frame
 *       without its line end. A room message's frame (header + payload) is built once for all
 *       recipients, as the line is without --ws. Pings are answered; a close frame closes.
 *   --tls-cert PEM --tls-key PEM: TLS on every connection (OpenSSL, non-blocking on the same loop:
 *       handshake driven by want-read/want-write, read-ahead (one read() for many records) with what
 *       OpenSSL holds read out while SSL_has_pending, one SSL_write per client per pass).
 *   Both: WebSocket over TLS.
 *
 * A client whose output buffer passes 1 MiB is disconnected (so a reader that never reads costs
 * bounded memory). Build: cc -O2 -Wall -Wextra -o build-tools/cref tools/cref/cref.c -lssl -lcrypto
 * Run: cref --port N [--host 127.0.0.1] [--proto line|irc] [--ws] [--tls-cert PEM --tls-key PEM];
 * prints "listening PORT" when ready.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#define MAX_LINE 4096
#define MAX_OUT (1u << 20)
#define NICK_MAX 32
#define ROOM_MAX 64
#define INPUT_ROUNDS 4

typedef struct room room_t;

typedef struct {
    int fd;            /* -1: free slot */
    bool registered, dead, dirty, want_out;
    char nick[NICK_MAX];
    bool has_user;     /* irc: USER seen */
    room_t *room;
    int pos;           /* index in room->members */
    char *in;          /* partial input line */
    size_t in_len, in_cap;
    char *out;         /* queued output */
    size_t out_len, out_off, out_cap;
    SSL *ssl;          /* --tls-cert */
    bool handshaken;   /* TLS handshake done (always true without TLS) */
    bool ws_open;      /* --ws: upgrade answered */
    bool ws_binary;    /* --ws: binary.ircv3.net asked: binary frames */
    char *ws;          /* --ws: the request, then a partial frame */
    size_t ws_len, ws_cap;
} client_t;

struct room {
    char name[ROOM_MAX];
    int *members; /* fds */
    int n, cap;
    room_t *next;
};

static bool irc, use_ws;
static SSL_CTX *tls;
static int epfd, lfd;
static client_t *clients; /* indexed by fd */
static int nclients_max;
static int *dirty, ndirty;
static int *dead, ndead;
static room_t *rooms[4096];
static room_t lobby = {.name = ""};
static char scratch[1 << 16];

static void fatal(const char *what)
{
    fprintf(stderr, "cref: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fputs("cref: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static room_t *room_get(const char *name)
{
    room_t **slot = &rooms[hash(name) % 4096];
    for (room_t *r = *slot; r; r = r->next)
        if (strcmp(r->name, name) == 0)
            return r;
    room_t *r = xrealloc(NULL, sizeof *r);
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->next = *slot;
    *slot = r;
    return r;
}

static void room_leave(client_t *c)
{
    room_t *r = c->room;
    if (!r)
        return;
    int last = r->members[--r->n];
    r->members[c->pos] = last;
    clients[last].pos = c->pos;
    c->room = NULL;
}

static void room_enter(client_t *c, room_t *r)
{
    room_leave(c);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->members = xrealloc(r->members, (size_t)r->cap * sizeof *r->members);
    }
    c->pos = r->n;
    r->members[r->n++] = c->fd;
    c->room = r;
}

static void kill_client(client_t *c)
{
    if (c->dead)
        return;
    c->dead = true;
    dead[ndead++] = c->fd;
}

/* Queue bytes for a client; flushed once at the end of the pass. */
static void enqueue(client_t *c, const char *p, size_t n)
{
    if (c->dead)
        return;
    if (c->out_len + n > MAX_OUT) {
        kill_client(c);
        return;
    }
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + n)
            cap *= 2;
        c->out = xrealloc(c->out, cap);
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    if (!c->dirty) {
        c->dirty = true;
        dirty[ndirty++] = c->fd;
    }
}

/* --ws: a line (ending in \n or \r\n) as one unmasked frame without its line end; dst has n + 4 bytes. */
static size_t ws_wrap(char *dst, bool binary, const char *p, size_t n)
{
    if (n && p[n - 1] == '\n')
        n--;
    if (n && p[n - 1] == '\r')
        n--;
    size_t h = 2;
    dst[0] = (char)(0x80 | (binary ? 2 : 1));
    if (n < 126) {
        dst[1] = (char)n;
    } else { /* lines are < 64 KiB */
        dst[1] = 126;
        dst[2] = (char)(n >> 8);
        dst[3] = (char)n;
        h = 4;
    }
    memcpy(dst + h, p, n);
    return h + n;
}

#define FRAME_MAX (MAX_LINE + 2 * NICK_MAX + 2 * ROOM_MAX + 64)
static char frame[2][FRAME_MAX];

/* A line to one client. */
static void emit(client_t *c, const char *p, size_t n)
{
    if (!use_ws) {
        enqueue(c, p, n);
        return;
    }
    enqueue(c, frame[0], ws_wrap(frame[0], c->ws_binary, p, n < FRAME_MAX - 4 ? n : FRAME_MAX - 4));
}

static void send_str(client_t *c, const char *s)
{
    emit(c, s, strlen(s));
}

/* Everyone in c's room but c gets the same formatted bytes: under --ws the same frame, built once per
 * message (per frame type: text, or binary for binary.ircv3.net clients). */
static void broadcast(client_t *c, const char *p, size_t n)
{
    room_t *r = c->room;
    if (!r)
        return;
    if (!use_ws) {
        for (int i = 0; i < r->n; i++)
            if (r->members[i] != c->fd)
                enqueue(&clients[r->members[i]], p, n);
        return;
    }
    size_t len[2] = {0, 0};
    if (n > FRAME_MAX - 4)
        n = FRAME_MAX - 4;
    for (int i = 0; i < r->n; i++) {
        client_t *to = &clients[r->members[i]];
        if (r->members[i] == c->fd)
            continue;
        int k = to->ws_binary;
        if (!len[k])
            len[k] = ws_wrap(frame[k], k, p, n);
        enqueue(to, frame[k], len[k]);
    }
}

static void set_out(client_t *c, bool on)
{
    if (c->want_out == on)
        return;
    struct epoll_event e = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.fd = c->fd};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
        fatal("epoll_ctl mod");
    c->want_out = on;
}

/* Writes up to n bytes: the count, 0 when it would block, -1 on an error. */
static ssize_t io_send(client_t *c, const char *p, size_t n)
{
    if (c->ssl) {
        ERR_clear_error();
        int w = SSL_write(c->ssl, p, n > 0x7fffffff ? 0x7fffffff : (int)n);
        if (w > 0)
            return w;
        int err = SSL_get_error(c->ssl, w);
        return err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ ? 0 : -1;
    }
    for (;;) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0)
            return w;
        if (w < 0 && errno == EINTR)
            continue;
        return w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
}

/* Reads: the count, 0 at EOF, -1 when nothing is there, -2 on an error. */
static ssize_t io_recv(client_t *c, char *p, size_t n)
{
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, p, n > 0x7fffffff ? 0x7fffffff : (int)n);
        if (r > 0)
            return r;
        int err = SSL_get_error(c->ssl, r);
        return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ? -1 : err == SSL_ERROR_ZERO_RETURN ? 0 : -2;
    }
    for (;;) {
        ssize_t r = read(c->fd, p, n);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
    }
}

static void flush(client_t *c)
{
    if (!c->handshaken) /* queued until the TLS handshake is done */
        return;
    while (c->out_off < c->out_len) {
        ssize_t w = io_send(c, c->out + c->out_off, c->out_len - c->out_off);
        if (w > 0)
            c->out_off += (size_t)w;
        else if (w == 0)
            break;
        else {
            kill_client(c);
            return;
        }
    }
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        set_out(c, false);
    } else {
        if (c->out_off > c->out_cap / 2) { /* compact so the buffer does not creep */
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        set_out(c, true);
    }
}

/* ---------------------------------------------------------------------------------------------- */

static void line_proto(client_t *c, char *line, size_t len)
{
    char buf[MAX_LINE + NICK_MAX + 16];
    if (!c->registered) {
        snprintf(c->nick, sizeof c->nick, "%.*s", (int)len, line);
        c->registered = true;
        room_enter(c, &lobby);
        int n = snprintf(buf, sizeof buf, ">> Welcome %s !\n", c->nick);
        emit(c, buf, (size_t)n);
        return;
    }
    if (len >= 1 && line[0] == '/' && !(len >= 2 && line[1] == '/')) {
        if (len == 5 && memcmp(line, "/quit", 5) == 0) {
            kill_client(c);
        } else if ((len > 6 && memcmp(line, "/join ", 6) == 0) || (len > 8 && memcmp(line, "/create ", 8) == 0)) {
            size_t skip = line[1] == 'j' ? 6 : 8;
            char name[ROOM_MAX];
            snprintf(name, sizeof name, "%.*s", (int)(len - skip), line + skip);
            room_enter(c, room_get(name));
            int n = snprintf(buf, sizeof buf, ">> %s joined %s\n", c->nick, name);
            emit(c, buf, (size_t)n);
        } else {
            send_str(c, "!! UNKNOWN_COMMAND\n");
        }
        return;
    }
    if (len >= 2 && line[0] == '/')
        line++, len--;
    size_t nl = strlen(c->nick);
    memcpy(buf, c->nick, nl);
    buf[nl] = ':';
    buf[nl + 1] = ' ';
    memcpy(buf + nl + 2, line, len);
    buf[nl + 2 + len] = '\n';
    broadcast(c, buf, nl + 3 + len);
}

/* Splits "CMD a b :trailing" (a leading ":prefix" is skipped). */
static int irc_split(char *line, char **argv, int max)
{
    int n = 0;
    char *p = line;
    if (*p == ':') {
        p = strchr(p, ' ');
        if (!p)
            return 0;
    }
    while (*p && n < max) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (*p == ':' && n > 0) {
            argv[n++] = p + 1;
            break;
        }
        argv[n++] = p;
        p = strchr(p, ' ');
        if (!p)
            break;
        *p++ = 0;
    }
    return n;
}

static void irc_proto(client_t *c, char *line, size_t len)
{
    char buf[MAX_LINE + 2 * NICK_MAX + 2 * ROOM_MAX + 32];
    char *argv[16];
    line[len] = 0;
    int argc = irc_split(line, argv, 16);
    if (argc == 0)
        return;
    const char *cmd = argv[0];
    if (strcasecmp(cmd, "PRIVMSG") == 0 && argc >= 3 && c->room && strcasecmp(argv[1], c->room->name) == 0) {
        int n = snprintf(buf, sizeof buf, ":%s!u@h PRIVMSG %s :%s\r\n", c->nick, c->room->name, argv[2]);
        broadcast(c, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    } else if (strcasecmp(cmd, "PING") == 0) {
        int n = snprintf(buf, sizeof buf, ":cref PONG cref :%s\r\n", argc >= 2 ? argv[1] : "");
        emit(c, buf, (size_t)n);
    } else if (strcasecmp(cmd, "NICK") == 0 && argc >= 2 && !c->registered) {
        snprintf(c->nick, sizeof c->nick, "%s", argv[1]);
    } else if (strcasecmp(cmd, "USER") == 0) {
        c->has_user = true;
    } else if (strcasecmp(cmd, "JOIN") == 0 && argc >= 2 && c->registered) {
        room_enter(c, room_get(argv[1]));
        int n = snprintf(buf, sizeof buf, ":%s!u@h JOIN %s\r\n", c->nick, c->room->name);
        emit(c, buf, (size_t)n);
    } else if (strcasecmp(cmd, "QUIT") == 0) {
        send_str(c, "ERROR :Closing link\r\n");
        kill_client(c);
    }
    if (!c->registered && c->nick[0] && c->has_user) {
        c->registered = true;
        int n = snprintf(buf, sizeof buf, ":cref 001 %s :Welcome\r\n", c->nick);
        emit(c, buf, (size_t)n);
    }
}

static void on_line(client_t *c, char *line, size_t len)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (len == 0 || len > MAX_LINE)
        return;
    if (irc)
        irc_proto(c, line, len);
    else
        line_proto(c, line, len);
}

/* Bytes of the line stream (no --ws): complete lines to on_line, a partial one kept. */
static void lines_input(client_t *c, char *p, char *end)
{
    while (p < end && !c->dead) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            size_t rest = (size_t)(end - p);
            if (c->in_len + rest > MAX_LINE + 2) { /* too long: dropped whole */
                c->in_len = 0;
                return;
            }
            if (c->in_len + rest + 1 > c->in_cap) {
                c->in_cap = MAX_LINE + 3;
                c->in = xrealloc(c->in, c->in_cap);
            }
            memcpy(c->in + c->in_len, p, rest);
            c->in_len += rest;
            return;
        }
        if (c->in_len) {
            size_t part = (size_t)(nl - p);
            if (c->in_len + part + 1 <= c->in_cap) {
                memcpy(c->in + c->in_len, p, part);
                on_line(c, c->in, c->in_len + part);
            }
            c->in_len = 0;
        } else {
            on_line(c, p, (size_t)(nl - p));
        }
        p = nl + 1;
    }
}

/* ---- WebSocket (--ws) --------------------------------------------------------------------------- */

#define WS_BUF (2 * (MAX_LINE + 14))

/* A request header's value (names compared case-insensitively), or NULL; *len its length. */
static const char *header(const char *req, size_t n, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (const char *p = req; p && p < req + n; p = memchr(p, '\n', (size_t)(req + n - p))) {
        p++;
        if ((size_t)(req + n - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            const char *e = v;
            while (e < req + n && *e != '\r' && *e != '\n')
                e++;
            *len = (size_t)(e - v);
            return v;
        }
    }
    return NULL;
}

/* The Upgrade request in c->ws: answers it once complete; false (and the client killed) if bad. */
static void ws_handshake(client_t *c)
{
    const char *end = memmem(c->ws, c->ws_len, "\r\n\r\n", 4);
    if (!end) {
        if (c->ws_len > 8192)
            kill_client(c);
        return;
    }
    size_t head = (size_t)(end - c->ws) + 4, klen = 0, plen = 0;
    const char *key = header(c->ws, head, "Sec-WebSocket-Key", &klen);
    const char *proto = header(c->ws, head, "Sec-WebSocket-Protocol", &plen);
    if (!key || klen > 64 || memcmp(c->ws, "GET ", 4) != 0) {
        send_str(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        kill_client(c);
        return;
    }
    char cat[128];
    unsigned char digest[SHA_DIGEST_LENGTH];
    unsigned char accept[64];
    int n = snprintf(cat, sizeof cat, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (int)klen, key);
    SHA1((const unsigned char *)cat, (size_t)n, digest);
    EVP_EncodeBlock(accept, digest, SHA_DIGEST_LENGTH);
    char res[512], chosen[128] = "";
    if (proto) { /* the first subprotocol offered */
        size_t first = 0;
        while (first < plen && proto[first] != ',' && proto[first] != ' ')
            first++;
        if (first > 100)
            first = 100;
        snprintf(chosen, sizeof chosen, "Sec-WebSocket-Protocol: %.*s\r\n", (int)first, proto);
        c->ws_binary = first == 16 && memcmp(proto, "binary.ircv3.net", 16) == 0;
    }
    n = snprintf(res, sizeof res,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: %s\r\n%s\r\n",
                 accept, chosen);
    enqueue(c, res, (size_t)n);
    memmove(c->ws, c->ws + head, c->ws_len - head);
    c->ws_len -= head;
    c->ws_open = true;
    if (!irc)
        send_str(c, ">> Enter pseudo:\n");
}

/* Whole client frames from p[0..n): each text/binary frame is one line; returns the bytes used. */
static size_t ws_frames(client_t *c, const unsigned char *p, size_t n)
{
    static char line[MAX_LINE + 2];
    size_t at = 0;
    while (!c->dead && n - at >= 2) {
        const unsigned char *h = p + at;
        size_t hl = 2;
        size_t len = h[1] & 0x7f;
        if (!(h[1] & 0x80) || (h[0] & 0x70)) { /* unmasked or reserved bits: protocol error */
            kill_client(c);
            break;
        }
        if (len == 126) {
            if (n - at < 4)
                break;
            len = (size_t)h[2] << 8 | h[3];
            hl = 4;
        }
        if ((h[1] & 0x7f) == 127 || len > MAX_LINE) { /* too big (1009) */
            kill_client(c);
            break;
        }
        if (n - at < hl + 4 + len)
            break;
        const unsigned char *key = h + hl, *pl = h + hl + 4;
        for (size_t i = 0; i < len; i++)
            line[i] = (char)(pl[i] ^ key[i & 3]);
        at += hl + 4 + len;
        int opcode = h[0] & 0x0f;
        if (!(h[0] & 0x80) || opcode == 0) { /* fragmented: not needed by the bench */
            kill_client(c);
        } else if (opcode == 1 || opcode == 2) {
            on_line(c, line, len);
        } else if (opcode == 8) {
            enqueue(c, "\x88\x02\x03\xe8", 4); /* close 1000 */
            kill_client(c);
        } else if (opcode == 9 && len <= 125) {
            char pong[2 + 125] = {(char)0x8a, (char)len};
            memcpy(pong + 2, line, len);
            enqueue(c, pong, 2 + len);
        } else if (opcode != 10) {
            kill_client(c);
        }
    }
    return at;
}

static void ws_keep(client_t *c, const char *data, size_t n)
{
    if (c->ws_len + n > c->ws_cap) {
        c->ws_cap = c->ws_len + n > WS_BUF ? c->ws_len + n : WS_BUF;
        c->ws = xrealloc(c->ws, c->ws_cap);
    }
    memcpy(c->ws + c->ws_len, data, n);
    c->ws_len += n;
}

static void ws_input(client_t *c, const char *data, size_t n)
{
    if (c->ws_len == 0 && c->ws_open) { /* the usual case: whole frames, parsed where they were read */
        size_t used = ws_frames(c, (const unsigned char *)data, n);
        if (!c->dead)
            ws_keep(c, data + used, n - used);
        return;
    }
    ws_keep(c, data, n);
    if (!c->ws_open) {
        ws_handshake(c);
        if (!c->ws_open)
            return;
    }
    size_t used = ws_frames(c, (const unsigned char *)c->ws, c->ws_len);
    memmove(c->ws, c->ws + used, c->ws_len - used);
    c->ws_len -= used;
}

/* ---- TLS (--tls-cert/--tls-key) ------------------------------------------------------------------ */

static void tls_handshake(client_t *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->handshaken = true;
        set_out(c, false);
        flush(c); /* what was queued meanwhile (the line protocol's prompt) */
        return;
    }
    int err = SSL_get_error(c->ssl, r);
    if (err == SSL_ERROR_WANT_READ)
        set_out(c, false);
    else if (err == SSL_ERROR_WANT_WRITE)
        set_out(c, true);
    else
        kill_client(c);
}

static void on_read(client_t *c)
{
    if (!c->handshaken) {
        tls_handshake(c);
        if (!c->handshaken)
            return;
    }
    /* One read per event; over TLS also what OpenSSL already holds (epoll cannot see it). */
    do {
        ssize_t n = io_recv(c, scratch, sizeof scratch - 1);
        if (n == 0 || n == -2) {
            kill_client(c);
            return;
        }
        if (n < 0)
            break;
        if (use_ws)
            ws_input(c, scratch, (size_t)n);
        else
            lines_input(c, scratch, scratch + n);
    } while (!c->dead && c->ssl && SSL_has_pending(c->ssl));
    if (!c->dead && c->ssl && !c->dirty && c->out_off < c->out_len) /* a write that wanted to read */
        flush(c);
}

static void on_accept(void)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                fprintf(stderr, "cref: accept: %s\n", strerror(errno));
            return;
        }
        if (fd >= nclients_max) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        client_t *c = &clients[fd];
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->handshaken = tls == NULL;
        struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0)
            fatal("epoll_ctl add");
        if (tls) {
            c->ssl = SSL_new(tls);
            if (!c->ssl || !SSL_set_fd(c->ssl, fd)) {
                fprintf(stderr, "cref: SSL_new failed\n");
                kill_client(c);
                continue;
            }
            SSL_set_accept_state(c->ssl);
        }
        if (!irc && !use_ws)
            send_str(c, ">> Enter pseudo:\n");
    }
}

/* Departures after the pass, so no member list changes while a broadcast walks it. */
static void reap(void)
{
    char buf[NICK_MAX + ROOM_MAX + 32];
    for (int i = 0; i < ndead; i++) {
        client_t *c = &clients[dead[i]];
        if (c->room && c->registered) {
            int n = irc ? snprintf(buf, sizeof buf, ":%s!u@h QUIT :bye\r\n", c->nick)
                        : snprintf(buf, sizeof buf, ">> Bye %s !\n", c->nick);
            broadcast(c, buf, (size_t)n);
        }
        if (c->out_off < c->out_len && c->handshaken) /* the last words (ERROR), best effort */
            (void)io_send(c, c->out + c->out_off, c->out_len - c->out_off);
        room_leave(c);
    }
    for (int i = 0; i < ndead; i++) {
        client_t *c = &clients[dead[i]];
        if (c->ssl)
            SSL_free(c->ssl);
        close(c->fd);
        free(c->in);
        free(c->out);
        free(c->ws);
        memset(c, 0, sizeof *c);
        c->fd = -1;
    }
    ndead = 0;
}

static void handle(const struct epoll_event *evs, int n)
{
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd == lfd) {
            on_accept();
            continue;
        }
        client_t *c = &clients[fd];
        if (c->dead)
            continue;
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            on_read(c);
        if (!c->dead && (evs[i].events & EPOLLOUT) && !c->handshaken) {
            tls_handshake(c);
            if (c->handshaken && !c->dead && SSL_has_pending(c->ssl)) /* read ahead: epoll will not say so */
                on_read(c);
        }
        else if (!c->dead && (evs[i].events & EPOLLOUT) && !c->dirty)
            flush(c);
    }
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *cert = NULL, *key = NULL;
    int port = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
            host = argv[++i];
        else if (strcmp(argv[i], "--proto") == 0 && i + 1 < argc && (strcmp(argv[i + 1], "irc") == 0 || strcmp(argv[i + 1], "line") == 0))
            irc = strcmp(argv[++i], "irc") == 0;
        else if (strcmp(argv[i], "--ws") == 0)
            use_ws = true;
        else if (strcmp(argv[i], "--tls-cert") == 0 && i + 1 < argc)
            cert = argv[++i];
        else if (strcmp(argv[i], "--tls-key") == 0 && i + 1 < argc)
            key = argv[++i];
        else {
            fputs("usage: cref --port N [--host 127.0.0.1] [--proto line|irc] [--ws] [--tls-cert PEM --tls-key PEM]\n", stderr);
            return 2;
        }
    }
    if (!cert != !key) {
        fputs("cref: --tls-cert and --tls-key go together\n", stderr);
        return 2;
    }
    if (cert) {
        tls = SSL_CTX_new(TLS_server_method());
        if (!tls || !SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION) ||
            SSL_CTX_use_certificate_chain_file(tls, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(tls, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(tls) != 1) {
            fprintf(stderr, "cref: TLS certificate %s / key %s: ", cert, key);
            ERR_print_errors_fp(stderr);
            return 2;
        }
        SSL_CTX_set_options(tls, SSL_OP_IGNORE_UNEXPECTED_EOF);
        SSL_CTX_set_mode(tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_CTX_set_read_ahead(tls, 1); /* one read() for many records, not two per record */
    }
    if (port < 0 || port > 65535) {
        fputs("cref: --port N is required\n", stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    nclients_max = rl.rlim_cur > 1000000 ? 1000000 : (int)rl.rlim_cur;
    clients = xrealloc(NULL, (size_t)nclients_max * sizeof *clients);
    memset(clients, 0, (size_t)nclients_max * sizeof *clients);
    dirty = xrealloc(NULL, (size_t)nclients_max * sizeof *dirty);
    dead = xrealloc(NULL, (size_t)nclients_max * sizeof *dead);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "cref: bad --host %s\n", host);
        return 2;
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        fatal("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0)
        fatal("bind");
    if (listen(lfd, 4096) < 0)
        fatal("listen");
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &alen);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        fatal("epoll_create1");
    struct epoll_event le = {.events = EPOLLIN, .data.fd = lfd};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &le) < 0)
        fatal("epoll_ctl listener");
    printf("listening %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event evs[1024];
    for (;;) {
        int n = epoll_wait(epfd, evs, 1024, -1);
        if (n < 0 && errno != EINTR)
            fatal("epoll_wait");
        handle(evs, n);
        /* Input before output: while more input is ready right now, read it before flushing, so a
         * recipient gets several messages in one write under load (bounded: a few quick polls, as
         * epchat's engine does). */
        for (int round = 0; round < INPUT_ROUNDS && n > 0 && ndirty; round++) {
            n = epoll_wait(epfd, evs, 1024, 0);
            if (n < 0 && errno != EINTR)
                fatal("epoll_wait");
            handle(evs, n);
        }
        /* one write per client with output this pass; a departure may queue more, so repeat */
        while (ndirty || ndead) {
            int nd = ndirty;
            ndirty = 0;
            for (int i = 0; i < nd; i++) {
                client_t *c = &clients[dirty[i]];
                c->dirty = false;
                if (c->fd >= 0 && !c->dead)
                    flush(c);
            }
            reap();
        }
    }
}
