/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "bpfhubctl.h"
#include "log.h"

static pid_t agent_pid;

/* Starts pkttyagent for this process, so that an action polkit answers with
 * auth_admin can ask for a password on this terminal, and waits until it has
 * registered. Without a terminal, or as root, there is nothing to do. */
int polkit_agent_open(void) {
        char notify_fd[16], process[32];
        int fds[2];
        pid_t pid;
        char c;

        if (agent_pid > 0 || geteuid() == 0 || !isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
                return 0;
        if (access("/usr/bin/pkttyagent", X_OK) < 0)
                return 0;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;

        (void) snprintf(process, sizeof process, "%d", (int) getpid());
        pid = fork();
        if (pid < 0) {
                (void) close(fds[0]);
                (void) close(fds[1]);
                return -errno;
        }
        if (pid == 0) {
                /* The agent closes this fd once it is registered with polkitd. */
                int fd = fcntl(fds[1], F_DUPFD, 3);
                (void) snprintf(notify_fd, sizeof notify_fd, "%d", fd);
                execl("/usr/bin/pkttyagent", "pkttyagent", "--notify-fd", notify_fd, "--fallback",
                      "--process", process, (char *) NULL);
                _exit(EXIT_FAILURE);
        }
        (void) close(fds[1]);
        while (read(fds[0], &c, 1) < 0 && errno == EINTR)
                ;
        (void) close(fds[0]);
        agent_pid = pid;
        return 1;
}

void polkit_agent_close(void) {
        if (agent_pid <= 0)
                return;
        (void) kill(agent_pid, SIGTERM);
        while (waitpid(agent_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        agent_pid = 0;
}
