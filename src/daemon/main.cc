// weftd: flanneld-compatible pod networking daemon. Everything lives in weft_daemon.
#include "daemon/weftd.h"

int main(int argc, char** argv) {
  return weft::daemon::run_weftd(argc, argv);
}
