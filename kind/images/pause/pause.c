/*
 * storekit's pause: the first process of every pod sandbox on the real node.
 *
 * It holds the pod's namespaces open and does nothing else: it sleeps until SIGINT or
 * SIGTERM (then exits 0), and, being PID 1 when the pod shares its PID namespace, it
 * reaps every child re-parented to it so no zombie piles up. Signals are blocked except
 * while waiting in sigsuspend(), so none can slip in between a check and the wait.
 */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	if (sig != SIGCHLD)
		stopping = 1;
}

int main(void)
{
	struct sigaction action = {.sa_handler = on_signal};
	sigset_t blocked, waiting;

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGCHLD);
	sigprocmask(SIG_BLOCK, &blocked, &waiting);
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGCHLD, &action, NULL);

	while (!stopping) {
		sigsuspend(&waiting);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	return 0;
}
