#pragma once
// Target<Entry>: a place the reconciler converges (kernel routes, neighbours, a VPC route table).
// It lists the entries it can prove are ours and applies a batch of changes, one Status per change.

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace weft::reconcile {

enum class Op { kCreate, kUpdate, kDelete };

const char* op_name(Op op);

template <typename Entry> struct Change {
  Op op = Op::kCreate;
  // kCreate/kUpdate: the desired entry; kDelete: the actual entry to remove.
  Entry entry;
  // kUpdate: the actual entry being replaced (targets that delete by id need it).
  std::optional<Entry> previous;
};

template <typename Entry> class Target {
public:
  virtual ~Target() = default;

  // A short name for logs and metrics ("kernel-routes", "vpc:rtb-123").
  virtual std::string name() const = 0;
  // Every entry the target holds that is ours; nothing else. Called once per sync.
  virtual base::Result<std::vector<Entry>> list() = 0;
  // Applies a batch; returns exactly one Status per change, in order. A shorter or longer vector
  // is treated as every change having failed.
  virtual std::vector<base::Status> apply(const std::vector<Change<Entry>>& batch) = 0;
};

} // namespace weft::reconcile
