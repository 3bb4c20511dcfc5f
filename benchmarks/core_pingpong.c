/* Round trip of one cache line between cores 0 and 1, in ns, every half second.

   Two threads, pinned to one core each, take turns incrementing one atomic counter: each
   round trip moves the line to the other core and back. On one core complex this takes
   tens of ns; across complexes or sockets several hundred. A virtual machine whose host
   moves its virtual cores shows both over a minute, and threaded training (fastnn's and
   OpenBLAS's) slows while the round trip is long (README, Speed).

   gcc -O2 -pthread -o core_pingpong benchmarks/core_pingpong.c && ./core_pingpong 60
*/
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Atomic long counter __attribute__((aligned(64)));
static atomic_int stop;

static void pin(int core)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
        fprintf(stderr, "cannot pin a thread to core %d\n", core);
        exit(1);
    }
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *answer(void *unused)
{
    (void)unused;
    pin(1);
    for (long odd = 1; !atomic_load(&stop); odd += 2) {
        while (atomic_load(&counter) != odd)
            if (atomic_load(&stop))
                return NULL;
        atomic_store(&counter, odd + 1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 60.0;
    pthread_t other;
    pin(0);
    pthread_create(&other, NULL, answer, NULL);
    long even = 0;
    double end = now() + seconds;
    while (now() < end) {
        double start = now();
        long trips = 0;
        while (now() - start < 0.5) {
            for (int i = 0; i < 1000; i++, even += 2) {
                atomic_store(&counter, even + 1);
                while (atomic_load(&counter) != even + 2)
                    ;
            }
            trips += 1000;
        }
        printf("%.0f ", (now() - start) / trips * 1e9);
        fflush(stdout);
    }
    atomic_store(&stop, 1);
    pthread_join(other, NULL);
    printf("\n");
    return 0;
}
