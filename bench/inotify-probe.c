/*
 * A stand-in for dnsmasq's inotify consumer (bench only): watches a directory with the same mask dnsmasq 2.90
 * uses for --dhcp-hostsdir (IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE), skips dot-files as dnsmasq does, and
 * burns `cost_us` of CPU per non-skipped event (dnsmasq walks every record per event: ~0.2 ms at 10k
 * records, ~4 ms at 50k, see docs/agent.md). It exits after `idle_ms` without events and prints JSON:
 * how many events arrived, how many named files it "read", and whether the kernel queue overflowed.
 * Usage: inotify-probe DIR COST_US IDLE_MS
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  long cost = atol(argv[2]), idle = atol(argv[3]);
  int fd = inotify_init1(IN_NONBLOCK);
  if (fd < 0 || inotify_add_watch(fd, argv[1], IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE) < 0) return 2;
  printf("ready\n");
  fflush(stdout);
  long events = 0, read_files = 0, hidden = 0, overflows = 0;
  char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
  struct pollfd p = {fd, POLLIN, 0};
  while (poll(&p, 1, idle) > 0) {
    ssize_t n = read(fd, buf, sizeof buf);
    for (char *ptr = buf; n > 0 && ptr < buf + n;) {
      struct inotify_event *e = (struct inotify_event *)ptr;
      ptr += sizeof(struct inotify_event) + e->len;
      events++;
      if (e->mask & IN_Q_OVERFLOW) { overflows++; continue; }
      if (e->len == 0) continue;
      if (e->name[0] == '.') { hidden++; continue; }
      read_files++;
      double until = now_us() + cost;
      while (now_us() < until) {}
    }
  }
  printf("{\"events\":%ld,\"files\":%ld,\"hidden\":%ld,\"overflows\":%ld}\n", events, read_files, hidden, overflows);
  return 0;
}
