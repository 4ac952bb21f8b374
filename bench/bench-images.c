/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Images, measured in one run against peers on this machine, with Debian's
 * docker-registry on loopback:
 *   1. a cold pull of an image with a 1 MiB layer: bpfhubd's PullImage
 *      (store emptied before each run) vs `skopeo copy docker://... oci:...`
 *      into a fresh layout;
 *   2. Load (and Unload) of the XDP counter from the cached image vs from
 *      the same object as a local file.
 * Prints medians and ratios. Not a test: nothing is asserted. */
#include <json-c/json.h>

#include "fixture.h"
#include "registry-fixture.h"

#define RUNS 11

static double now_ms(void) {
        return (double) g_get_monotonic_time() / 1000.0;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
        qsort(v, n, sizeof(double), cmp_double);
        return v[n / 2];
}

typedef struct Finished {
        const char *path;
        bool done;
        char state[32];
} Finished;

static int on_finished(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Finished *f = userdata;
        const char *state;

        if (f->path && g_strcmp0(sd_bus_message_get_path(m), f->path) == 0 && sd_bus_message_read(m, "s", &state) >= 0) {
                g_strlcpy(f->state, state, sizeof f->state);
                f->done = true;
        }
        return 0;
}

static double pull_once(sd_bus *bus, const char *reference) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        sd_bus_slot *slot = NULL;
        Finished f = {};
        const char *path;
        uint32_t id;
        double start;

        (void) sd_bus_call_method(bus, "org.bpfhub.Manager1", "/org/bpfhub/Manager1", "org.bpfhub.Manager1", "RemoveImage",
                                  NULL, NULL, "s", reference);
        g_assert_cmpint(sd_bus_match_signal(bus, &slot, NULL, NULL, "org.bpfhub.Transfer1", "Finished", on_finished, &f), >=, 0);
        start = now_ms();
        if (sd_bus_call_method(bus, "org.bpfhub.Manager1", "/org/bpfhub/Manager1", "org.bpfhub.Manager1", "PullImage",
                               &error, &reply, "sa{sv}", reference, 1, "pull_policy", "s", "Always") < 0)
                g_error("PullImage: %s", error.message);
        g_assert_cmpint(sd_bus_message_read(reply, "uo", &id, &path), >=, 0);
        f.path = path;
        while (!f.done)
                if (sd_bus_process(bus, NULL) == 0)
                        (void) sd_bus_wait(bus, UINT64_MAX);
        double elapsed = now_ms() - start;
        if (g_strcmp0(f.state, "done") != 0)
                g_error("pull ended %s", f.state);
        sd_bus_message_unref(reply);
        sd_bus_slot_unref(slot);
        return elapsed;
}

static double skopeo_once(const char *scratch, const RegistryFixture *r, const char *name, unsigned run) {
        g_autofree char *dir = g_strdup_printf("%s/skopeo-%u", scratch, run);
        double start;
        int status;

        (void) unlink("/var/lib/containers/cache/blob-info-cache-v1.boltdb");
        start = now_ms();
        status = fixture_run(NULL, "skopeo copy -q --src-tls-verify=false docker://%s/%s oci:%s:v1", r->host, name, dir);
        double elapsed = now_ms() - start;
        if (status != 0)
                g_error("skopeo copy failed");
        return elapsed;
}

static double load_once(sd_bus *bus, const char *source) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path;
        uint32_t id;
        double start = now_ms(), elapsed;

        if (sd_bus_call_method(bus, "org.bpfhub.Manager1", "/org/bpfhub/Manager1", "org.bpfhub.Manager1", "Load", &error,
                               &reply, "sa(sss)a{sv}", source, 1, "xdp_stats", "xdp", "", 0) < 0)
                g_error("Load %s: %s", source, error.message);
        elapsed = now_ms() - start;
        g_assert_cmpint(sd_bus_message_read(reply, "a(uo)", 1, &id, &path), >=, 0);
        sd_bus_message_unref(reply);
        g_assert_cmpint(sd_bus_call_method(bus, "org.bpfhub.Manager1", "/org/bpfhub/Manager1", "org.bpfhub.Manager1", "Unload",
                                           NULL, NULL, "u", id), >=, 0);
        return elapsed;
}

int main(int argc, char *argv[]) {
        g_autofree char *scratch = NULL, *big = NULL, *counter = NULL, *object = NULL, *conf = NULL, *text = NULL;
        double pulls[RUNS], skopeos[RUNS], image_loads[RUNS], file_loads[RUNS];
        RegistryFixture reg = {};
        BusFixture bus = {};
        sd_bus *client;

        g_test_init(&argc, &argv, NULL);
        if (geteuid() != 0)
                g_error("the benchmark loads eBPF programs: run it as root");
        scratch = fixture_scratch_new("bench-images");
        if (!registry_fixture_start(&reg, scratch, REGISTRY_PLAIN) || !registry_fixture_publish_test_images(&reg))
                g_error("could not start the registry");
        if (!bus_fixture_start(&bus, scratch, "--idle-timeout=0"))
                g_error("could not start the bus");
        conf = g_build_filename(bus.config_dir, "bpfhub.conf", NULL);
        text = g_strdup_printf("[Registries]\nInsecure=%s\n", reg.host);
        g_assert_cmpint(g_mkdir_with_parents(bus.config_dir, 0755), ==, 0);
        g_assert_true(g_file_set_contents(conf, text, -1, NULL));
        client = bus_fixture_connect(&bus);
        big = g_strdup_printf("%s/bench/big:v1", reg.host);
        counter = g_strdup_printf("%s/bpfman/xdp-counter:v1", reg.host);
        object = fixture_build_path("bpf/xdp-counter.bpf.o");

        /* Warm up both sides once (daemon activation, page cache, TLS-free loopback). */
        (void) pull_once(client, big);
        (void) skopeo_once(scratch, &reg, "bench/big:v1", 100);
        for (unsigned i = 0; i < RUNS; i++) {
                pulls[i] = pull_once(client, big);
                skopeos[i] = skopeo_once(scratch, &reg, "bench/big:v1", i);
        }

        (void) pull_once(client, counter);
        (void) load_once(client, counter);
        (void) load_once(client, object);
        for (unsigned i = 0; i < RUNS; i++) {
                image_loads[i] = load_once(client, counter);
                file_loads[i] = load_once(client, object);
        }

        double p = median(pulls, RUNS), s = median(skopeos, RUNS), li = median(image_loads, RUNS), lf = median(file_loads, RUNS);
        printf("bench-images: %d runs each, medians (min..max)\n", RUNS);
        printf("  cold pull, 1 MiB layer:  bpfhubd %.1f ms (%.1f..%.1f)   skopeo copy %.1f ms (%.1f..%.1f)   ratio %.2f\n",
               p, pulls[0], pulls[RUNS - 1], s, skopeos[0], skopeos[RUNS - 1], p / s);
        printf("  load XDP counter:        from cached image %.2f ms (%.2f..%.2f)   from file %.2f ms (%.2f..%.2f)   ratio %.2f\n",
               li, image_loads[0], image_loads[RUNS - 1], lf, file_loads[0], file_loads[RUNS - 1], li / lf);

        sd_bus_flush_close_unref(client);
        bus_fixture_stop(&bus);
        registry_fixture_stop(&reg);
        fixture_scratch_free(g_steal_pointer(&scratch));
        return 0;
}
