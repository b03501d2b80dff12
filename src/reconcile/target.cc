#include "reconcile/target.h"

namespace weft::reconcile {

const char* op_name(Op op) {
  switch (op) {
  case Op::kCreate:
    return "create";
  case Op::kUpdate:
    return "update";
  case Op::kDelete:
    return "delete";
  }
  return "unknown";
}

} // namespace weft::reconcile
