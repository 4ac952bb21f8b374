/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "log.h"
#include "pager.h"

static pid_t pager_pid = 0;

int pager_open(bool disabled) {
        const char *pager;
        int fds[2];
        pid_t pid;

        if (disabled || pager_pid > 0 || !isatty(STDOUT_FILENO))
                return 0;

        pager = getenv("BPFHUB_PAGER") ?: getenv("PAGER");
        if (pager && (isempty(pager) || streq(pager, "cat")))
                return 0;

        (void) fflush(stdout);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return log_error_errno(errno, "Failed to create pager pipe: %m");

        pid = fork();
        if (pid < 0) {
                int r = -errno;
                (void) close(fds[0]);
                (void) close(fds[1]);
                return log_error_errno(r, "Failed to fork pager: %m");
        }
        if (pid == 0) {
                /* Child: reads what the parent writes. */
                (void) dup2(fds[0], STDIN_FILENO);
                (void) setenv("LESS", getenv("LESS") ?: "FRSXMK", 1);
                (void) setenv("LESSCHARSET", getenv("LESSCHARSET") ?: "utf-8", 1);
                if (pager)
                        execl("/bin/sh", "sh", "-c", pager, (char *) NULL);
                execlp("less", "less", (char *) NULL);
                execlp("more", "more", (char *) NULL);
                /* No pager at all: pass the text through. */
                execlp("cat", "cat", (char *) NULL);
                _exit(EXIT_FAILURE);
        }

        if (dup2(fds[1], STDOUT_FILENO) < 0) {
                int r = -errno;
                (void) close(fds[0]);
                (void) close(fds[1]);
                return log_error_errno(r, "Failed to redirect output to the pager: %m");
        }
        (void) close(fds[0]);
        (void) close(fds[1]);
        pager_pid = pid;
        return 1;
}

void pager_close(void) {
        if (pager_pid <= 0)
                return;
        (void) fflush(stdout);
        (void) fclose(stdout);
        (void) close(STDOUT_FILENO);
        while (waitpid(pager_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        pager_pid = 0;
}
