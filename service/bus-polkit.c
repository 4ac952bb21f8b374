/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Asynchronous polkit checks on the public sd-bus API. A method handler
 * asks bus_verify_polkit_async(); on the first call it sends
 * CheckAuthorization and returns 0, the handler returns without replying,
 * and when polkitd answers the original call is put back in the read queue,
 * so the handler runs again and now gets the verdict. */
#include "bus-errors.h"
#include "bus-polkit.h"
#include "log.h"

#define POLKIT_TIMEOUT_USEC (120 * USEC_PER_SEC) /* an agent may be asking for a password */

struct PolkitQuery {
        PolkitRegistry *registry;
        sd_bus_message *request;        /* the method call being authorized */
        sd_bus_message *reply;          /* polkitd's answer, once it came */
        sd_bus_slot *slot;
        char *action;
        PolkitQuery *next;
};

struct InspectGrant {
        char *sender;
        usec_t until;
        InspectGrant *next;
};

static void grants_expire(PolkitRegistry *reg, usec_t now) {
        for (InspectGrant **i = &reg->grants; *i;) {
                InspectGrant *g = *i;
                if (g->until > now) {
                        i = &g->next;
                        continue;
                }
                *i = g->next;
                free(g->sender);
                free(g);
                reg->n_grants--;
        }
}

static void grant_inspect(PolkitRegistry *reg, const char *sender) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        InspectGrant *g;

        grants_expire(reg, now);
        for (g = reg->grants; g; g = g->next)
                if (streq(g->sender, sender)) {
                        g->until = now + INSPECT_GRANT_USEC;
                        return;
                }
        /* Full: the grant is not remembered and the caller keeps using the methods. */
        if (reg->n_grants >= INSPECT_GRANTS_MAX)
                return;
        g = calloc(1, sizeof(*g));
        if (!g || !(g->sender = strdup(sender))) {
                free(g);
                return;
        }
        g->until = now + INSPECT_GRANT_USEC;
        g->next = reg->grants;
        reg->grants = g;
        reg->n_grants++;
}

bool bus_may_inspect(PolkitRegistry *reg, sd_bus *bus) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        sd_bus_message *m = sd_bus_get_current_message(bus);
        const char *sender;
        uid_t uid;

        if (reg->emitting > 0 || !m)
                return true;
        if (sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds) >= 0 && sd_bus_creds_get_euid(creds, &uid) >= 0 &&
            uid == 0)
                return true;
        sender = sd_bus_message_get_sender(m);
        if (!sender)
                return false;
        grants_expire(reg, now_usec(CLOCK_MONOTONIC));
        for (InspectGrant *g = reg->grants; g; g = g->next)
                if (streq(g->sender, sender))
                        return true;
        return false;
}

static PolkitQuery *query_free(PolkitQuery *q) {
        if (!q)
                return NULL;
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        sd_bus_message_unref(q->reply);
        free(q->action);
        return mfree(q);
}

static void registry_remove(PolkitRegistry *reg, PolkitQuery *q) {
        for (PolkitQuery **i = &reg->queries; *i; i = &(*i)->next)
                if (*i == q) {
                        *i = q->next;
                        reg->n_queries--;
                        break;
                }
}

void polkit_registry_done(PolkitRegistry *reg) {
        while (reg->queries) {
                PolkitQuery *q = reg->queries;
                registry_remove(reg, q);
                query_free(q);
        }
        grants_expire(reg, USEC_INFINITY);
}

static int on_check_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = ASSERT_PTR(userdata);
        int r;

        q->slot = sd_bus_slot_unref(q->slot);
        q->reply = sd_bus_message_ref(reply);

        /* Run the method again, from the start of its arguments. */
        r = sd_bus_message_rewind(q->request, true);
        if (r >= 0)
                r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->request), q->request);
        if (r < 0) {
                log_debug_errno(r, "Failed to requeue a call after its polkit check: %m");
                (void) sd_bus_reply_method_errno(q->request, r, NULL);
                registry_remove(q->registry, q);
                query_free(q);
        }
        return 0;
}

/* The verdict of a finished query: 1 allowed, or -EACCES with error set. */
static int query_verdict(PolkitQuery *q, bool interactive, sd_bus_error *error) {
        const sd_bus_error *e = sd_bus_message_get_error(q->reply);
        int authorized = 0, challenge = 0, r;

        if (e) {
                /* No polkitd, or it failed: deny (fail closed). Root never gets here. */
                log_debug("polkit check for %s failed, denying: %s: %s", q->action, e->name, strna(e->message));
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Access denied: polkit could not be asked about %s (%s).", q->action,
                                         strna(e->message));
        }
        r = sd_bus_message_enter_container(q->reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(q->reply, "bb", &authorized, &challenge);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Access denied: polkit's answer about %s could not be read.", q->action);
        if (authorized)
                return 1;
        if (challenge)
                return sd_bus_error_setf(error, interactive ? SD_BUS_ERROR_ACCESS_DENIED
                                                            : SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                         "Authentication is required for %s%s.", q->action,
                                         interactive ? ", and it did not succeed"
                                                     : " (the call did not allow interactive authorization)");
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Access denied by polkit for %s.", q->action);
}

int bus_verify_polkit_async(PolkitRegistry *reg, sd_bus_message *call, const char *action,
                            const char *const *details, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *check = NULL;
        bool interactive = sd_bus_message_get_allow_interactive_authorization(call) > 0;
        PolkitQuery *q;
        const char *sender;
        uid_t uid;
        int r;

        /* Root passes without a round trip. */
        r = sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        if (uid == 0)
                return 1;

        /* Called again after polkitd answered? */
        for (q = reg->queries; q; q = q->next)
                if (q->request == call && q->reply) {
                        registry_remove(reg, q);
                        r = streq(q->action, action) ? query_verdict(q, interactive, error)
                                                     : sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                                                         "Access denied: inconsistent authorization.");
                        if (r > 0 && streq(action, POLKIT_ACTION_INSPECT) && sd_bus_message_get_sender(call))
                                grant_inspect(reg, sd_bus_message_get_sender(call));
                        query_free(q);
                        return r < 0 ? -EACCES : r;
                }

        sender = sd_bus_message_get_sender(call);
        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Access denied: the caller has no bus name.");

        r = sd_bus_message_new_method_call(sd_bus_message_get_bus(call), &check, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r >= 0)
                /* system-bus-name: polkit resolves the caller itself, no pid race. */
                r = sd_bus_message_append(check, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender, action);
        if (r >= 0)
                r = sd_bus_message_open_container(check, 'a', "{ss}");
        for (const char *const *d = details; r >= 0 && d && d[0] && d[1]; d += 2)
                r = sd_bus_message_append(check, "{ss}", d[0], d[1]);
        if (r >= 0)
                r = sd_bus_message_close_container(check);
        if (r >= 0)
                r = sd_bus_message_append(check, "us", (uint32_t) (interactive ? 1 : 0), "");
        if (r < 0)
                return r;

        q = calloc(1, sizeof(PolkitQuery));
        if (!q)
                return -ENOMEM;
        q->registry = reg;
        q->request = sd_bus_message_ref(call);
        q->action = strdup(action);
        if (!q->action) {
                query_free(q);
                return -ENOMEM;
        }
        r = sd_bus_call_async(sd_bus_message_get_bus(call), &q->slot, check, on_check_reply, q, POLKIT_TIMEOUT_USEC);
        if (r < 0) {
                query_free(q);
                return r;
        }
        q->next = reg->queries;
        reg->queries = q;
        reg->n_queries++;
        return 0; /* will be called again */
}
