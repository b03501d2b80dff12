#include "base/clock.h"

namespace weft::base {

Clock& system_clock() {
  static SystemClock clock;
  return clock;
}

} // namespace weft::base
