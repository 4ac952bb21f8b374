/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"

/* HTTP requests with libcurl's multi interface driven by the daemon's
 * sd-event loop: sockets and curl's timer become event sources, so a
 * transfer never blocks anything else the daemon does. */

typedef struct HttpClient HttpClient;
typedef struct HttpRequest HttpRequest;

/* error: 0, or a negative errno (E2BIG: body over its cap; ECANCELED;
 * ECONNREFUSED/ETIMEDOUT/EPROTO/...: transport failures, message in
 * http_request_error_message()). status: the HTTP status, 0 without one. */
typedef void (*http_done_t)(HttpRequest *req, int error, long status, void *userdata);
typedef void (*http_progress_t)(HttpRequest *req, uint64_t bytes, void *userdata);

int http_client_new(sd_event *event, HttpClient **ret);
HttpClient *http_client_free(HttpClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpClient *, http_client_free);

int http_request_new(HttpClient *c, const char *url, HttpRequest **ret);
/* Frees (and cancels, without calling done) the request. */
HttpRequest *http_request_free(HttpRequest *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpRequest *, http_request_free);

int http_request_add_header(HttpRequest *r, const char *header);
/* Basic credentials for this request only (never sent to another host on a redirect). */
int http_request_set_basic_auth(HttpRequest *r, const char *user, const char *password);
int http_request_set_ca_file(HttpRequest *r, const char *path);
/* Allows redirects to plain http (only for registries configured as insecure). */
void http_request_allow_plain_http(HttpRequest *r);
/* The body goes to memory, at most max bytes (the default is 1 MiB)... */
void http_request_body_to_memory(HttpRequest *r, size_t max);
/* ...or to fd, at most max bytes. */
void http_request_body_to_fd(HttpRequest *r, int fd, uint64_t max);
void http_request_set_progress(HttpRequest *r, http_progress_t progress, void *userdata);

int http_request_start(HttpRequest *r, http_done_t done, void *userdata);

/* After done: the body kept in memory (NUL-terminated), a response header
 * (case-insensitive name, NULL when absent), the final URL, curl's message. */
const char *http_request_body(HttpRequest *r, size_t *ret_size);
const char *http_request_header(HttpRequest *r, const char *name);
const char *http_request_error_message(HttpRequest *r);
uint64_t http_request_bytes(HttpRequest *r);

sd_event *http_client_get_event(HttpClient *c);
