/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A bearer token server for tests (the docker token protocol), so the test
 * registry can run with auth.token:
 *
 *   GET /token?service=S&scope=repository:NAME:pull,push[&scope=...]
 *   Authorization: Basic base64(user:password)
 *
 * answers 200 with {"token", "access_token", "expires_in", "issued_at"},
 * granting every requested action, or 401 for missing or wrong credentials.
 * Tokens are JWTs signed RS256 with --key; their header carries --cert as
 * x5c, which the registry checks against its rootcertbundle.
 *
 * Plain HTTP on 127.0.0.1, one connection at a time, Connection: close.
 * With --port 0 (the default) it picks a free port. When it listens, it
 * prints "127.0.0.1:<port>" and a newline on stdout and closes stdout;
 * it logs to stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST_MAX 16384
#define REQUEST_TIMEOUT_MS 5000
#define TOKEN_LIFETIME_S 300

typedef struct Server {
        int port;
        char *user, *password, *key_path, *cert_path, *issuer;
        gnutls_privkey_t key;
        char *x5c;              /* base64 DER of the signing certificate */
        int fd;
} Server;

typedef struct Request {
        char *method, *path, *query;
        char *authorization;    /* value of the Authorization header, or NULL */
} Request;

static void request_clear(Request *q) {
        g_free(q->method);
        g_free(q->path);
        g_free(q->query);
        g_free(q->authorization);
        *q = (Request) {};
}

/* base64url without padding (RFC 7515 section 2). */
static char *base64url(const void *data, size_t size) {
        char *s = g_base64_encode(data, size);
        size_t n = strlen(s);

        for (char *p = s; *p; p++)
                if (*p == '+')
                        *p = '-';
                else if (*p == '/')
                        *p = '_';
        while (n > 0 && s[n - 1] == '=')
                s[--n] = '\0';
        return s;
}

static char *json_escape(const char *s) {
        GString *out = g_string_new(NULL);

        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        g_string_append_printf(out, "\\%c", *p);
                else if (*p < 0x20)
                        g_string_append_printf(out, "\\u%04x", *p);
                else
                        g_string_append_c(out, (char) *p);
        }
        return g_string_free(out, FALSE);
}

static gboolean load_key(Server *s) {
        g_autofree char *key_pem = NULL, *cert_pem = NULL;
        gsize key_len, cert_len;
        gnutls_x509_crt_t crt = NULL;
        gnutls_datum_t der = {}, datum;
        int r;

        if (!g_file_get_contents(s->key_path, &key_pem, &key_len, NULL) ||
            !g_file_get_contents(s->cert_path, &cert_pem, &cert_len, NULL)) {
                g_printerr("token-server: cannot read %s or %s\n", s->key_path, s->cert_path);
                return FALSE;
        }
        datum = (gnutls_datum_t) { (unsigned char *) key_pem, (unsigned) key_len };
        if ((r = gnutls_privkey_init(&s->key)) < 0 ||
            (r = gnutls_privkey_import_x509_raw(s->key, &datum, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
                g_printerr("token-server: %s: %s\n", s->key_path, gnutls_strerror(r));
                return FALSE;
        }
        datum = (gnutls_datum_t) { (unsigned char *) cert_pem, (unsigned) cert_len };
        if ((r = gnutls_x509_crt_init(&crt)) < 0 || (r = gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM)) < 0 ||
            (r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der)) < 0) {
                g_printerr("token-server: %s: %s\n", s->cert_path, gnutls_strerror(r));
                if (crt)
                        gnutls_x509_crt_deinit(crt);
                return FALSE;
        }
        /* x5c holds standard base64, not base64url (RFC 7515 section 4.1.6). */
        s->x5c = g_base64_encode(der.data, der.size);
        gnutls_free(der.data);
        gnutls_x509_crt_deinit(crt);
        return TRUE;
}

/* One scope "type:name:action,action" as a JSON access entry, or NULL. */
static char *access_entry(const char *scope) {
        const char *first = strchr(scope, ':'), *last = strrchr(scope, ':');
        g_autofree char *raw_type = NULL, *raw_name = NULL, *type = NULL, *name = NULL;
        g_auto(GStrv) actions = NULL;
        GString *out;

        if (!first || first == last)
                return NULL;
        raw_type = g_strndup(scope, (size_t) (first - scope));
        raw_name = g_strndup(first + 1, (size_t) (last - first - 1));
        type = json_escape(raw_type);
        name = json_escape(raw_name);
        actions = g_strsplit(last + 1, ",", -1);
        out = g_string_new(NULL);
        g_string_append_printf(out, "{\"type\":\"%s\",\"name\":\"%s\",\"actions\":[", type, name);
        for (char **a = actions; *a; a++) {
                g_autofree char *action = json_escape(*a);
                g_string_append_printf(out, "%s\"%s\"", a == actions ? "" : ",", action);
        }
        g_string_append(out, "]}");
        return g_string_free(out, FALSE);
}

/* The "access" claim for all scope parameters (each may hold several
 * space-separated scopes). */
static char *access_claim(char **scopes) {
        GString *out = g_string_new("[");
        bool first = true;

        for (char **s = scopes; s && *s; s++) {
                g_auto(GStrv) parts = g_strsplit(*s, " ", -1);
                for (char **p = parts; *p; p++) {
                        g_autofree char *entry = **p ? access_entry(*p) : NULL;
                        if (!entry)
                                continue;
                        g_string_append_printf(out, "%s%s", first ? "" : ",", entry);
                        first = false;
                }
        }
        g_string_append_c(out, ']');
        return g_string_free(out, FALSE);
}

static char *random_hex(size_t bytes) {
        g_autofree unsigned char *raw = g_malloc(bytes);
        GString *out = g_string_new(NULL);

        if (gnutls_rnd(GNUTLS_RND_NONCE, raw, bytes) < 0)
                for (size_t i = 0; i < bytes; i++)
                        raw[i] = (unsigned char) g_random_int();
        for (size_t i = 0; i < bytes; i++)
                g_string_append_printf(out, "%02x", raw[i]);
        return g_string_free(out, FALSE);
}

/* A signed JWT, or NULL. */
static char *make_token(Server *s, const char *service, char **scopes, gint64 now) {
        g_autofree char *header = NULL, *claims = NULL, *access = NULL, *jti = NULL, *sub = NULL, *iss = NULL, *aud = NULL;
        g_autofree char *h64 = NULL, *c64 = NULL, *signing_input = NULL, *sig64 = NULL;
        gnutls_datum_t data, sig = {};
        int r;

        header = g_strdup_printf("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5c\":[\"%s\"]}", s->x5c);
        access = access_claim(scopes);
        jti = random_hex(16);
        sub = json_escape(s->user);
        iss = json_escape(s->issuer);
        aud = json_escape(service);
        claims = g_strdup_printf("{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"exp\":%" G_GINT64_FORMAT
                                 ",\"nbf\":%" G_GINT64_FORMAT ",\"iat\":%" G_GINT64_FORMAT ",\"jti\":\"%s\",\"access\":%s}",
                                 iss, sub, aud, now + TOKEN_LIFETIME_S, now - 1, now, jti, access);
        h64 = base64url(header, strlen(header));
        c64 = base64url(claims, strlen(claims));
        signing_input = g_strdup_printf("%s.%s", h64, c64);
        data = (gnutls_datum_t) { (unsigned char *) signing_input, (unsigned) strlen(signing_input) };
        /* RSA keys sign PKCS#1 v1.5 with this call: RS256. */
        r = gnutls_privkey_sign_data(s->key, GNUTLS_DIG_SHA256, 0, &data, &sig);
        if (r < 0) {
                g_printerr("token-server: signing failed: %s\n", gnutls_strerror(r));
                return NULL;
        }
        sig64 = base64url(sig.data, sig.size);
        gnutls_free(sig.data);
        g_printerr("token-server: issued token for %s, access %s\n", aud, access);
        return g_strdup_printf("%s.%s", signing_input, sig64);
}

static gboolean credentials_ok(Server *s, const char *authorization) {
        g_autofree char *expected = NULL;
        g_autofree unsigned char *decoded = NULL;
        gsize len;
        const char *p;

        if (!authorization || g_ascii_strncasecmp(authorization, "Basic ", 6) != 0)
                return FALSE;
        for (p = authorization + 6; *p == ' '; p++)
                ;
        decoded = g_base64_decode(p, &len);
        expected = g_strdup_printf("%s:%s", s->user, s->password);
        return len == strlen(expected) && memcmp(decoded, expected, len) == 0;
}

static int hex_value(char c) {
        return g_ascii_isxdigit(c) ? g_ascii_xdigit_value(c) : -1;
}

/* Decodes %XX and '+' of a query component. */
static char *query_decode(const char *s, size_t n) {
        GString *out = g_string_sized_new(n);

        for (size_t i = 0; i < n; i++) {
                if (s[i] == '%' && i + 2 < n && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
                        g_string_append_c(out, (char) (hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
                        i += 2;
                } else if (s[i] == '+')
                        g_string_append_c(out, ' ');
                else
                        g_string_append_c(out, s[i]);
        }
        return g_string_free(out, FALSE);
}

/* All values of a query parameter. */
static GStrv query_values(const char *query, const char *name) {
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();
        g_auto(GStrv) pairs = g_strsplit(query ? query : "", "&", -1);

        for (char **p = pairs; *p; p++) {
                const char *eq = strchr(*p, '=');
                g_autofree char *key = query_decode(*p, eq ? (size_t) (eq - *p) : strlen(*p));

                if (g_str_equal(key, name)) {
                        g_autofree char *value = query_decode(eq ? eq + 1 : "", eq ? strlen(eq + 1) : 0);
                        g_strv_builder_add(b, value);
                }
        }
        return g_strv_builder_end(b);
}

/* Reads up to the end of the headers. 0, or an HTTP status for a bad request. */
static int read_head(int fd, char *buf, size_t cap, size_t *len) {
        gint64 deadline = g_get_monotonic_time() + REQUEST_TIMEOUT_MS * 1000;

        *len = 0;
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
                ssize_t k;

                if (left_ms <= 0 || poll(&p, 1, (int) left_ms) <= 0)
                        return 408;
                k = recv(fd, buf + *len, cap - 1 - *len, 0);
                if (k <= 0)
                        return 400;
                *len += (size_t) k;
                buf[*len] = '\0';
                if (strstr(buf, "\r\n\r\n"))
                        return 0;
                if (*len >= cap - 1)
                        return 431;
        }
}

/* Parses the request line and the headers we care about. 0 or an HTTP status. */
static int parse_request(char *head, Request *q) {
        char *end = strstr(head, "\r\n\r\n"), *line, *next, *sp1, *sp2, *target;

        *end = '\0';
        next = strstr(head, "\r\n");
        if (next)
                *next = '\0';
        sp1 = strchr(head, ' ');
        sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (!sp1 || !sp2 || !g_str_has_prefix(sp2 + 1, "HTTP/1."))
                return 400;
        q->method = g_strndup(head, (size_t) (sp1 - head));
        target = g_strndup(sp1 + 1, (size_t) (sp2 - sp1 - 1));
        if (strchr(target, '?')) {
                q->query = g_strdup(strchr(target, '?') + 1);
                *strchr(target, '?') = '\0';
        }
        q->path = target;

        for (line = next ? next + 2 : NULL; line && *line; line = next) {
                char *colon;

                next = strstr(line, "\r\n");
                if (next) {
                        *next = '\0';
                        next += 2;
                }
                colon = strchr(line, ':');
                if (!colon)
                        return 400;
                *colon = '\0';
                if (g_ascii_strcasecmp(line, "Authorization") == 0) {
                        g_free(q->authorization);
                        q->authorization = g_strstrip(g_strdup(colon + 1));
                }
        }
        return 0;
}

static const char *reason(int status) {
        switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 431: return "Request Header Fields Too Large";
        default: return "Internal Server Error";
        }
}

static void send_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return;
                p += k;
                n -= (size_t) k;
        }
}

static void respond(int fd, int status, const char *extra_headers, const char *body) {
        g_autofree char *head = g_strdup_printf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                                                "%sConnection: close\r\n\r\n",
                                                status, reason(status), strlen(body), extra_headers ? extra_headers : "");
        send_all(fd, head, strlen(head));
        send_all(fd, body, strlen(body));
}

static void respond_error(int fd, int status, const char *code, const char *message) {
        g_autofree char *body = g_strdup_printf("{\"errors\":[{\"code\":\"%s\",\"message\":\"%s\"}]}", code, message);
        respond(fd, status, status == 401 ? "WWW-Authenticate: Basic realm=\"bpfhub-test-token\"\r\n" : NULL, body);
}

static void handle_token(Server *s, int fd, Request *q) {
        g_auto(GStrv) services = query_values(q->query, "service"), scopes = query_values(q->query, "scope");
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *token = NULL, *issued = NULL, *body = NULL;

        if (!credentials_ok(s, q->authorization)) {
                g_printerr("token-server: 401 for %s credentials\n", q->authorization ? "wrong" : "missing");
                respond_error(fd, 401, "UNAUTHORIZED", q->authorization ? "wrong credentials" : "credentials required");
                return;
        }
        token = make_token(s, services[0] ? services[0] : "", scopes, g_date_time_to_unix(now));
        if (!token) {
                respond_error(fd, 500, "INTERNAL", "cannot sign the token");
                return;
        }
        issued = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
        body = g_strdup_printf("{\"token\":\"%s\",\"access_token\":\"%s\",\"expires_in\":%d,\"issued_at\":\"%s\"}", token,
                               token, TOKEN_LIFETIME_S, issued);
        respond(fd, 200, NULL, body);
}

static void serve_one(Server *s, int fd) {
        char head[REQUEST_MAX];
        Request q = {};
        size_t len;
        int status;

        status = read_head(fd, head, sizeof head, &len);
        if (status == 0)
                status = parse_request(head, &q);
        if (status != 0) {
                g_printerr("token-server: bad request (%d)\n", status);
                respond_error(fd, status, "BAD_REQUEST", reason(status));
        } else if (!g_str_equal(q.path, "/token")) {
                g_printerr("token-server: %s %s: not found\n", q.method, q.path);
                respond_error(fd, 404, "NOT_FOUND", "only /token is served");
        } else if (!g_str_equal(q.method, "GET")) {
                g_printerr("token-server: %s %s: method not allowed\n", q.method, q.path);
                respond_error(fd, 405, "UNSUPPORTED", "only GET is served");
        } else {
                g_printerr("token-server: GET /token?%s\n", q.query ? q.query : "");
                handle_token(s, fd, &q);
        }
        request_clear(&q);
}

static gboolean listen_loopback(Server *s) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) s->port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        int one = 1;

        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(s->fd, (struct sockaddr *) &a, sizeof a) < 0 || listen(s->fd, 64) < 0 ||
            getsockname(s->fd, (struct sockaddr *) &a, &len) < 0) {
                g_printerr("token-server: cannot listen on 127.0.0.1:%d: %s\n", s->port, g_strerror(errno));
                return FALSE;
        }
        s->port = ntohs(a.sin_port);
        return TRUE;
}

static void serve_forever(Server *s) {
        for (;;) {
                struct pollfd p = { .fd = s->fd, .events = POLLIN };
                int c;

                if (poll(&p, 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        g_printerr("token-server: poll: %s\n", g_strerror(errno));
                        return;
                }
                c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                serve_one(s, c);
                (void) shutdown(c, SHUT_WR);
                (void) close(c);
        }
}

int main(int argc, char *argv[]) {
        Server s = { .fd = -1 };
        g_autoptr(GError) error = NULL;
        g_autoptr(GOptionContext) context = g_option_context_new("- bearer tokens for the test registry");
        int null_fd;
        const GOptionEntry entries[] = {
                { "port", 0, 0, G_OPTION_ARG_INT, &s.port, "TCP port on 127.0.0.1 (0: any free port)", "PORT" },
                { "user", 0, 0, G_OPTION_ARG_STRING, &s.user, "accepted user name", "NAME" },
                { "password", 0, 0, G_OPTION_ARG_STRING, &s.password, "accepted password", "PASSWORD" },
                { "key", 0, 0, G_OPTION_ARG_FILENAME, &s.key_path, "RSA private key (PEM) signing the tokens", "FILE" },
                { "cert", 0, 0, G_OPTION_ARG_FILENAME, &s.cert_path, "certificate of that key (PEM), sent as x5c", "FILE" },
                { "issuer", 0, 0, G_OPTION_ARG_STRING, &s.issuer, "iss claim", "NAME" },
                {}
        };

        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                g_printerr("token-server: %s\n", error->message);
                return 2;
        }
        if (!s.user || !s.password || !s.key_path || !s.cert_path || !s.issuer || s.port < 0 || s.port > 65535) {
                g_printerr("token-server: --user, --password, --key, --cert and --issuer are required\n");
                return 2;
        }
        (void) signal(SIGPIPE, SIG_IGN);
        if (!load_key(&s) || !listen_loopback(&s))
                return 1;

        printf("127.0.0.1:%d\n", s.port);
        fflush(stdout);
        /* Readers of the first line see EOF after it. */
        null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null_fd >= 0) {
                (void) dup2(null_fd, STDOUT_FILENO);
                (void) close(null_fd);
        }
        g_printerr("token-server: listening on 127.0.0.1:%d, issuer %s\n", s.port, s.issuer);
        serve_forever(&s);
        return 1;
}
