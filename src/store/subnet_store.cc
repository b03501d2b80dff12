#include "store/subnet_store.h"

#include <condition_variable>
#include <mutex>

namespace weft::store {

bool sleep_for(std::stop_token stop, std::chrono::milliseconds d) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

} // namespace weft::store
