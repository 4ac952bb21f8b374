/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <curl/curl.h>

#include "http.h"
#include "log.h"

#define HTTP_DEFAULT_BODY_MAX (1U << 20)
#define HTTP_HEADERS_MAX 64
#define HTTP_HEADER_SIZE_MAX 8192

struct HttpClient {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
};

struct HttpRequest {
        HttpClient *client;
        CURL *easy;
        struct curl_slist *headers;
        char *url;
        bool started;

        /* body */
        int fd;
        uint64_t max;
        uint64_t received;
        char *body;
        size_t body_size, body_allocated;
        bool too_big;
        int write_error;

        char **response_headers;        /* lower-case name, value, ... of the last response */
        char error_buffer[CURL_ERROR_SIZE];

        http_done_t done;
        http_progress_t progress;
        void *userdata, *progress_userdata;
};

/* One per socket curl watches. */
typedef struct SocketWatch {
        sd_event_source *source;
} SocketWatch;

static void client_check_done(HttpClient *c) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(c->multi, &left))) {
                HttpRequest *r = NULL;
                long status = 0;
                int error = 0;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                (void) curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
                (void) curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
                switch (msg->data.result) {
                case CURLE_OK:
                        break;
                case CURLE_WRITE_ERROR:
                        error = r->too_big ? -E2BIG : r->write_error ?: -EIO;
                        break;
                case CURLE_COULDNT_CONNECT:
                        error = -ECONNREFUSED;
                        break;
                case CURLE_COULDNT_RESOLVE_HOST:
                        error = -EHOSTUNREACH;
                        break;
                case CURLE_OPERATION_TIMEDOUT:
                        error = -ETIMEDOUT;
                        break;
                case CURLE_PEER_FAILED_VERIFICATION:
                case CURLE_SSL_CONNECT_ERROR:
                case CURLE_SSL_CACERT_BADFILE:
                        error = -EPROTO;
                        break;
                case CURLE_UNSUPPORTED_PROTOCOL:
                        error = -EPROTONOSUPPORT;
                        break;
                case CURLE_TOO_MANY_REDIRECTS:
                        error = -ELOOP;
                        break;
                case CURLE_RECV_ERROR:
                case CURLE_SEND_ERROR:
                case CURLE_GOT_NOTHING:
                case CURLE_PARTIAL_FILE:
                case CURLE_HTTP2:
                case CURLE_HTTP2_STREAM:
                        error = -ECONNRESET;
                        break;
                default:
                        error = -EIO;
                }
                if (error < 0 && r->error_buffer[0] == '\0')
                        snprintf(r->error_buffer, sizeof r->error_buffer, "%s", curl_easy_strerror(msg->data.result));
                (void) curl_multi_remove_handle(c->multi, r->easy);
                r->started = false;
                /* done may free r: nothing touches it afterwards. */
                r->done(r, error, status, r->userdata);
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HttpClient *c = userdata;
        int action = 0, running;

        if (revents & (EPOLLIN | EPOLLHUP))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                action |= CURL_CSELECT_ERR;
        (void) curl_multi_socket_action(c->multi, fd, action, &running);
        client_check_done(c);
        return 0;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        HttpClient *c = userp;
        SocketWatch *w = socketp;
        uint32_t events = 0;

        if (what == CURL_POLL_REMOVE) {
                if (w) {
                        sd_event_source_disable_unref(w->source);
                        free(w);
                        (void) curl_multi_assign(c->multi, fd, NULL);
                }
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;

        if (w)
                return sd_event_source_set_io_events(w->source, events) < 0 ? -1 : 0;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -1;
        if (sd_event_add_io(c->event, &w->source, fd, events, on_io, c) < 0) {
                free(w);
                return -1;
        }
        (void) sd_event_source_set_description(w->source, "curl-io");
        (void) curl_multi_assign(c->multi, fd, w);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HttpClient *c = userdata;
        int running;

        (void) curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        client_check_done(c);
        return 0;
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp) {
        HttpClient *c = userp;
        uint64_t now;

        if (timeout_ms < 0)
                return sd_event_source_set_enabled(c->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
        if (sd_event_now(c->event, CLOCK_MONOTONIC, &now) < 0)
                return -1;
        if (sd_event_source_set_time(c->timer, now + (uint64_t) timeout_ms * 1000) < 0 ||
            sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT) < 0)
                return -1;
        return 0;
}

int http_client_new(sd_event *event, HttpClient **ret) {
        _cleanup_(http_client_freep) HttpClient *c = NULL;
        static bool initialized = false;
        int r;

        if (!initialized) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return -EIO;
                initialized = true;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->multi = curl_multi_init();
        if (!c->multi)
                return -ENOMEM;
        /* Accuracy 1 µs: sd-event's default (0 = 250 ms) would hold every curl
         * step back by up to a quarter second. */
        r = sd_event_add_time(event, &c->timer, CLOCK_MONOTONIC, UINT64_MAX, 1, on_timer, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(c->timer, "curl-timer");

        if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer_change) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK)
                return -EIO;
        *ret = TAKE_PTR(c);
        return 0;
}

HttpClient *http_client_free(HttpClient *c) {
        if (!c)
                return NULL;
        if (c->multi)
                curl_multi_cleanup(c->multi);
        sd_event_source_disable_unref(c->timer);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata) {
        HttpRequest *r = userdata;
        size_t total = size * n, name_len;
        _cleanup_free_ char *line = NULL;
        char *colon, *value;

        if (total >= 5 && strneq(data, "HTTP/", 5)) {
                /* A new response (after a redirect or 100-continue): forget the old headers. */
                r->response_headers = strv_free(r->response_headers);
                return total;
        }
        if (total > HTTP_HEADER_SIZE_MAX || strv_length(r->response_headers) >= 2 * HTTP_HEADERS_MAX)
                return total;   /* ignored: nothing we read is that large */
        line = strndup(data, total);
        if (!line)
                return 0;
        colon = strchr(line, ':');
        if (!colon)
                return total;
        *colon = '\0';
        name_len = strlen(line);
        for (size_t i = 0; i < name_len; i++)
                line[i] = (char) tolower((unsigned char) line[i]);
        value = strstrip(colon + 1);
        if (strv_extend(&r->response_headers, line) < 0 || strv_extend(&r->response_headers, value) < 0)
                return 0;
        return total;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata) {
        HttpRequest *r = userdata;
        size_t total = size * n;

        if (r->received + total > r->max) {
                r->too_big = true;
                return 0;
        }
        if (r->fd >= 0) {
                const char *p = data;
                size_t left = total;
                while (left > 0) {
                        ssize_t k = write(r->fd, p, left);
                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                r->write_error = -errno;
                                return 0;
                        }
                        p += k;
                        left -= (size_t) k;
                }
        } else {
                if (r->body_size + total + 1 > r->body_allocated) {
                        size_t want = MAX(r->body_allocated * 2, r->body_size + total + 1);
                        char *b = realloc(r->body, want);
                        if (!b) {
                                r->write_error = -ENOMEM;
                                return 0;
                        }
                        r->body = b;
                        r->body_allocated = want;
                }
                memcpy(r->body + r->body_size, data, total);
                r->body_size += total;
                r->body[r->body_size] = '\0';
        }
        r->received += total;
        if (r->progress)
                r->progress(r, r->received, r->progress_userdata);
        return total;
}

int http_request_new(HttpClient *c, const char *url, HttpRequest **ret) {
        _cleanup_(http_request_freep) HttpRequest *r = NULL;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->client = c;
        r->fd = -EBADF;
        r->max = HTTP_DEFAULT_BODY_MAX;
        r->url = strdup(url);
        r->easy = curl_easy_init();
        if (!r->url || !r->easy)
                return -ENOMEM;

        if (curl_easy_setopt(r->easy, CURLOPT_URL, r->url) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_MAXREDIRS, 8L) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT, 15L) != CURLE_OK ||
            /* A registry that sends nothing for 30 s is gone. */
            curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, 30L) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "bpfhub/" PACKAGE_VERSION) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->error_buffer) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r) != CURLE_OK)
                return -EIO;
        *ret = TAKE_PTR(r);
        return 0;
}

HttpRequest *http_request_free(HttpRequest *r) {
        if (!r)
                return NULL;
        if (r->easy) {
                if (r->started)
                        (void) curl_multi_remove_handle(r->client->multi, r->easy);
                curl_easy_cleanup(r->easy);
        }
        curl_slist_free_all(r->headers);
        strv_free(r->response_headers);
        free(r->body);
        free(r->url);
        free(r);
        return NULL;
}

int http_request_add_header(HttpRequest *r, const char *header) {
        struct curl_slist *l = curl_slist_append(r->headers, header);

        if (!l)
                return -ENOMEM;
        r->headers = l;
        return curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers) == CURLE_OK ? 0 : -EIO;
}

int http_request_set_basic_auth(HttpRequest *r, const char *user, const char *password) {
        if (curl_easy_setopt(r->easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_USERNAME, user) != CURLE_OK ||
            curl_easy_setopt(r->easy, CURLOPT_PASSWORD, password) != CURLE_OK)
                return -EIO;
        return 0;
}

int http_request_set_ca_file(HttpRequest *r, const char *path) {
        return curl_easy_setopt(r->easy, CURLOPT_CAINFO, path) == CURLE_OK ? 0 : -EIO;
}

void http_request_allow_plain_http(HttpRequest *r) {
        (void) curl_easy_setopt(r->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
}

void http_request_body_to_memory(HttpRequest *r, size_t max) {
        r->fd = -EBADF;
        r->max = max;
}

void http_request_body_to_fd(HttpRequest *r, int fd, uint64_t max) {
        r->fd = fd;
        r->max = max;
}

void http_request_set_progress(HttpRequest *r, http_progress_t progress, void *userdata) {
        r->progress = progress;
        r->progress_userdata = userdata;
}

int http_request_start(HttpRequest *r, http_done_t done, void *userdata) {
        assert(!r->started);
        r->done = done;
        r->userdata = userdata;
        if (curl_multi_add_handle(r->client->multi, r->easy) != CURLM_OK)
                return -EIO;
        r->started = true;
        /* Adding the handle arms curl's timer (on_timer_change with 0 ms): the
         * transfer starts from the event loop, never inside this call. */
        return 0;
}

const char *http_request_body(HttpRequest *r, size_t *ret_size) {
        if (ret_size)
                *ret_size = r->body_size;
        return r->body ?: "";
}

const char *http_request_header(HttpRequest *r, const char *name) {
        for (size_t i = 0; r->response_headers && r->response_headers[i] && r->response_headers[i + 1]; i += 2)
                if (strcasecmp(r->response_headers[i], name) == 0)
                        return r->response_headers[i + 1];
        return NULL;
}

const char *http_request_error_message(HttpRequest *r) {
        return r->error_buffer;
}

uint64_t http_request_bytes(HttpRequest *r) {
        return r->received;
}

sd_event *http_client_get_event(HttpClient *c) {
        return c->event;
}
