/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"
#include "log.h"
#include "time-util.h"

static void test_timespan(void) {
        static const struct { const char *in; usec_t out; } good[] = {
                { "30s", 30 * USEC_PER_SEC },
                { "30", 30 * USEC_PER_SEC },
                { "0", 0 },
                { "500ms", 500 * USEC_PER_MSEC },
                { "1min 30s", 90 * USEC_PER_SEC },
                { "1min30s", 90 * USEC_PER_SEC },
                { "2h", 2 * USEC_PER_HOUR },
                { "1.5s", 1500 * USEC_PER_MSEC },
                { " 5 minutes ", 5 * USEC_PER_MINUTE },
                { "1d", USEC_PER_DAY },
                { "7us", 7 },
                { "infinity", USEC_INFINITY },
        };
        static const char *const bad[] = {
                "", "s", "soon", "5 parsecs", "-1s", "99999999999999999999s", "5x", "1min junk",
        };
        char buf[FORMAT_TIMESPAN_MAX];

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                usec_t t = 1;
                g_assert_cmpint(parse_timespan(good[i].in, &t), ==, 0);
                g_assert_cmpuint(t, ==, good[i].out);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                usec_t t = 42;
                if (parse_timespan(bad[i], &t) >= 0)
                        g_error("\"%s\" parsed as %" G_GUINT64_FORMAT, bad[i], t);
                g_assert_cmpuint(t, ==, 42);
        }

        g_assert_cmpstr(format_timespan(buf, sizeof buf, 90 * USEC_PER_SEC), ==, "1min 30s");
        g_assert_cmpstr(format_timespan(buf, sizeof buf, 0), ==, "0");
        g_assert_cmpstr(format_timespan(buf, sizeof buf, USEC_INFINITY), ==, "infinity");
        g_assert_cmpstr(format_timespan(buf, sizeof buf, 1500 * USEC_PER_MSEC), ==, "1s 500ms");
}

static void test_defaults(void) {
        BpfhubConfig c;

        g_assert_cmpint(config_init(&c), ==, 0);
        g_assert_cmpstr(c.config_dir, ==, BPFHUB_CONFIG_DIR);
        g_assert_cmpstr(c.state_dir, ==, "/run/bpfhub");
        g_assert_cmpstr(c.bpffs_root, ==, "/sys/fs/bpf/bpfhub");
        g_assert_cmpstr(c.image_store, ==, "/var/lib/bpfhub/images");
        g_assert_cmpuint(c.idle_timeout, ==, 30 * USEC_PER_SEC);
        g_assert_null(c.warnings);
        config_done(&c);
}

static void test_parse(void) {
        static const char text[] =
                "# comment\n"
                "; another comment\n"
                "\n"
                "Orphan=1\n"
                "[Daemon]\n"
                "  StateDirectory = /srv/state/  \n"
                "BpffsRoot=/sys/fs/bpf/other\n"
                "IdleTimeout=2min\n"
                "LogLevel=debug\n"
                "no equals sign\n"
                "ImageStore=not/absolute\n"
                "IdleTimeout=whenever\n"
                "[Registries]\n"
                "Insecure=127.0.0.1:5000 registry.test\n"
                "Insecure=bad/host ok.test:80\n"
                "Mirror=x\n"
                "[broken\n";
        BpfhubConfig c;

        g_assert_cmpint(config_init(&c), ==, 0);
        g_assert_cmpint(config_parse_text(&c, text, sizeof text - 1, "test.conf"), ==, 0);
        g_assert_cmpstr(c.state_dir, ==, "/srv/state");
        g_assert_cmpstr(c.bpffs_root, ==, "/sys/fs/bpf/other");
        g_assert_cmpstr(c.image_store, ==, "/var/lib/bpfhub/images");
        g_assert_cmpuint(c.idle_timeout, ==, 2 * USEC_PER_MINUTE);
        g_assert_cmpint(c.log_level, ==, LOG_DEBUG);

        /* Insecure= accumulates; a bad entry is skipped, the rest of its line kept. */
        g_assert_cmpuint(strv_length(c.insecure_registries), ==, 3);
        g_assert_cmpstr(c.insecure_registries[0], ==, "127.0.0.1:5000");
        g_assert_cmpstr(c.insecure_registries[1], ==, "registry.test");
        g_assert_cmpstr(c.insecure_registries[2], ==, "ok.test:80");

        /* One warning per ignored line or entry, naming file and line. */
        g_assert_cmpuint(strv_length(c.warnings), ==, 7);
        g_assert_true(g_str_has_prefix(c.warnings[0], "test.conf:4: "));
        g_assert_true(g_str_has_prefix(c.warnings[1], "test.conf:10: "));
        g_assert_true(g_str_has_prefix(c.warnings[2], "test.conf:11: "));
        g_assert_true(g_str_has_prefix(c.warnings[3], "test.conf:12: "));
        g_assert_true(g_str_has_prefix(c.warnings[4], "test.conf:15: "));
        g_assert_nonnull(strstr(c.warnings[4], "bad/host"));
        g_assert_true(g_str_has_prefix(c.warnings[5], "test.conf:16: "));
        g_assert_true(g_str_has_prefix(c.warnings[6], "test.conf:17: "));

        /* An empty assignment clears the list (a drop-in can revoke). */
        g_assert_cmpint(config_parse_text(&c, "[Registries]\nInsecure=\n", 23, "drop.conf"), ==, 0);
        g_assert_null(c.insecure_registries);
        config_done(&c);
}

static void test_hostile(void) {
        /* NUL bytes, control characters in paths, huge lines, no newline at
         * the end: nothing crashes, nothing unsafe is taken. */
        static const char nul_text[] = "[Daemon]\nStateDirectory=/a\0/b\nIdleTimeout=1s";
        g_autofree char *huge = NULL;
        GString *s = g_string_new("[Daemon]\nStateDirectory=/");
        BpfhubConfig c;

        for (int i = 0; i < 10000; i++)
                g_string_append(s, "x");
        g_string_append(s, "\nBpffsRoot=/tmp/\x01evil\n");
        huge = g_string_free(s, FALSE);

        g_assert_cmpint(config_init(&c), ==, 0);
        g_assert_cmpint(config_parse_text(&c, nul_text, sizeof nul_text - 1, "nul.conf"), ==, 0);
        g_assert_cmpstr(c.state_dir, ==, "/run/bpfhub");
        g_assert_cmpuint(c.idle_timeout, ==, USEC_PER_SEC);
        g_assert_cmpint(config_parse_text(&c, huge, strlen(huge), "huge.conf"), ==, 0);
        g_assert_cmpstr(c.state_dir, ==, "/run/bpfhub");
        g_assert_cmpstr(c.bpffs_root, ==, "/sys/fs/bpf/bpfhub");
        g_assert_cmpuint(strv_length(c.warnings), ==, 3);
        config_done(&c);
}

static void test_load_dir(void) {
        g_autofree char *dir = g_dir_make_tmp("bpfhub-config-XXXXXX", NULL);
        g_autofree char *main_conf = g_build_filename(dir, "bpfhub.conf", NULL);
        g_autofree char *dropins = g_build_filename(dir, "bpfhub.conf.d", NULL);
        g_autofree char *a = g_build_filename(dropins, "10-a.conf", NULL);
        g_autofree char *b = g_build_filename(dropins, "20-b.conf", NULL);
        g_autofree char *ignored = g_build_filename(dropins, "30-c.conf.disabled", NULL);
        BpfhubConfig c;

        g_assert_nonnull(dir);
        g_assert_cmpint(g_mkdir(dropins, 0755), ==, 0);
        g_assert_true(g_file_set_contents(main_conf, "[Daemon]\nIdleTimeout=10s\nStateDirectory=/main\n", -1, NULL));
        g_assert_true(g_file_set_contents(b, "[Daemon]\nIdleTimeout=30s\n", -1, NULL));
        g_assert_true(g_file_set_contents(a, "[Daemon]\nIdleTimeout=20s\nImageStore=/from-a\n", -1, NULL));
        g_assert_true(g_file_set_contents(ignored, "[Daemon]\nIdleTimeout=99s\n", -1, NULL));

        g_assert_cmpint(config_init(&c), ==, 0);
        free(c.config_dir);
        c.config_dir = strdup(dir);
        g_assert_cmpint(config_load(&c), ==, 0);
        g_assert_cmpuint(c.idle_timeout, ==, 30 * USEC_PER_SEC);
        g_assert_cmpstr(c.state_dir, ==, "/main");
        g_assert_cmpstr(c.image_store, ==, "/from-a");
        g_assert_null(c.warnings);
        config_done(&c);

        /* A missing directory is not an error. */
        g_assert_cmpint(config_init(&c), ==, 0);
        free(c.config_dir);
        c.config_dir = strdup("/nonexistent/bpfhub");
        g_assert_cmpint(config_load(&c), ==, 0);
        config_done(&c);

        g_assert_cmpint(g_remove(a), ==, 0);
        g_assert_cmpint(g_remove(b), ==, 0);
        g_assert_cmpint(g_remove(ignored), ==, 0);
        g_assert_cmpint(g_remove(main_conf), ==, 0);
        g_assert_cmpint(g_rmdir(dropins), ==, 0);
        g_assert_cmpint(g_rmdir(dir), ==, 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        log_set_max_level(LOG_ERR);
        g_test_add_func("/config/timespan", test_timespan);
        g_test_add_func("/config/defaults", test_defaults);
        g_test_add_func("/config/parse", test_parse);
        g_test_add_func("/config/hostile", test_hostile);
        g_test_add_func("/config/load-dir", test_load_dir);
        return g_test_run();
}
