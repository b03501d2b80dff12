// weftd: flanneld-compatible pod networking daemon. Everything lives in weft_daemon.
#include <malloc.h>

#include "daemon/weftd.h"

int main(int argc, char** argv) {
  // weftd's threads allocate little and rarely: two malloc arenas instead of one per thread keep
  // memory freed by one thread reusable by the others (less resident memory, no contention).
  mallopt(M_ARENA_MAX, 2);
  return weft::daemon::run_weftd(argc, argv);
}
