// weftd: flanneld-compatible pod networking daemon. Everything lives in weft_daemon (run_weftd
// also sets up the process: signals, one malloc arena).
#include "daemon/weftd.h"

int main(int argc, char** argv) {
  return weft::daemon::run_weftd(argc, argv);
}
