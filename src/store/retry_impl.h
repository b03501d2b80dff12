#pragma once
// The template body of store::retry_unavailable (declared in subnet_store.h).

#include <string>

#include "base/backoff.h"
#include "base/log.h"
#include "base/status.h"

namespace weft::store {

template <typename T>
base::Result<T> retry_unavailable(std::stop_token stop, const std::string& what,
                                  const std::function<base::Result<T>()>& fn,
                                  std::chrono::milliseconds initial,
                                  std::chrono::milliseconds max) {
  base::Backoff backoff(initial, max);
  bool failing = false;
  while (true) {
    auto r = fn();
    if (r.ok() || r.status().code() != base::Code::kUnavailable) {
      if (failing) {
        WEFT_INFO("{}: store reachable again after {} attempts", what, backoff.attempts() + 1);
      }
      return r;
    }
    if (!failing) {
      WEFT_WARN("{}: store unreachable, retrying with backoff: {}", what, r.status().to_string());
      failing = true;
    }
    if (!sleep_for(stop, backoff.next())) {
      return base::cancelled(fmt::format("{}: stopped while waiting for the store", what));
    }
  }
}

} // namespace weft::store
